#!/usr/bin/env python3
"""Runs one of upstream's integration suites (../shared/upstream/tests/<suite>, copied verbatim
into a temporary directory) against the production csc-rs sidecars, inside the private network
and mount namespaces run.sh made (loopback only: a request meant for Azure fails instead of
leaving the machine). This process plays the platform: the simulated SEV-SNP host
(tsm-simulate, served at /sys/kernel/config/tsm/report, plus the security context it hands
over), "Azure" (one azure-emulator on 127.0.0.1:443 under the MAA and managed HSM host names
the tests use; Azurite on 127.0.0.2:443 as Blob Storage), name resolution (a private
/etc/hosts) and the stand-ins for the tools upstream's tests call (standins/)."""

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ATTESTATION = "csclocal.weu.attest.azure.net"
HSM = "csclocal.managedhsm.azure.net"
ACCOUNT = "devstoreaccount1"
CONTAINER = "encfs"
EXPECTED = {"skr": 10, "encfs": 4}
POLICY = """package policy

api_version := "0.10.0"
framework_version := "0.2.3"

# csc-rs upstream suite: the policy the simulated host launches every container group with
mount_device := {"allowed": true}
exec_in_container := {"allowed": true}
"""


def sh(*argv, **kw):
    subprocess.run(list(argv), check=True, **kw)


def need(var):
    v = os.environ.get(var)
    if not v or not os.path.exists(v):
        sys.exit(f"upstream harness: {var}={v!r} is not a file (see ci/upstream/README.md)")
    return v


class Services:
    def __init__(self, work):
        self.work = work
        self.procs = []
        self.cleanups = []

    def start(self, name, argv, ready, timeout=120, **kw):
        log = open(os.path.join(self.work, "logs", f"{name}.log"), "wb")
        out = subprocess.PIPE if ready == "stdout-line" else log
        p = subprocess.Popen(argv, stdout=out, stderr=log, stdin=subprocess.DEVNULL, **kw)
        self.procs.append((name, p))
        if ready == "stdout-line":
            line = p.stdout.readline().decode()
            if not line.strip():
                p.wait(5)
                sys.exit(f"upstream harness: {name} did not start:\n" + read(log.name))
            return json.loads(line)
        deadline = time.time() + timeout
        while not ready():
            if p.poll() is not None or time.time() > deadline:
                sys.exit(f"upstream harness: {name} did not start:\n" + read(log.name))
            time.sleep(0.2)
        return None

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        for c in reversed(self.cleanups):
            c()


def read(path):
    try:
        return open(path, errors="replace").read()[-4000:]
    except OSError:
        return ""


def storage_ca(work):
    """A CA and a TLS certificate for Azurite under the storage account's host name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csc-rs upstream harness storage CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    host = f"{ACCOUNT}.blob.core.windows.net"
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = {n: os.path.join(work, f"storage-{n}.pem") for n in ("ca", "cert", "key")}
    open(paths["ca"], "wb").write(ca.public_bytes(pem))
    open(paths["cert"], "wb").write(cert.public_bytes(pem))
    open(paths["key"], "wb").write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return paths


def private_mounts(services, work):
    """Name resolution, the configfs-tsm directory, /mnt and /dev/mapper of this namespace."""
    hosts = os.path.join(work, "hosts")
    open(hosts, "w").write(f"127.0.0.1 localhost {ATTESTATION} {HSM}\n"
                           f"127.0.0.2 {ACCOUNT}.blob.core.windows.net\n::1 localhost\n")
    sh("mount", "--bind", hosts, "/etc/hosts")
    # configfs is absent on this kernel: a tmpfs stands for /sys/kernel in this namespace only.
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "csc-sys-kernel", "/sys/kernel")
    os.makedirs("/sys/kernel/config/tsm/report")
    sh("mount", "-t", "tmpfs", "csc-mnt", "/mnt")
    if not os.path.isdir("/dev/mapper"):
        # No device-mapper here: the directory is made for this run (and removed after it), and
        # a private tmpfs holds what the cryptsetup stand-in puts there.
        os.mkdir("/dev/mapper")
        services.cleanups.append(lambda: os.rmdir("/dev/mapper"))
    sh("mount", "-t", "tmpfs", "csc-dev-mapper", "/dev/mapper")
    services.cleanups.append(lambda: subprocess.run(["umount", "/dev/mapper"]))


def reachable(url_host, port):
    import socket
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((url_host, port)) == 0


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else "skr"
    if suite not in EXPECTED:
        sys.exit(f"upstream harness: unknown suite {suite!r} (skr or encfs)")
    upstream = os.environ.get("CSC_UPSTREAM_TESTS", os.path.join(HERE, "../../../shared/upstream/tests"))
    tools = {v: need(v) for v in ("CSC_SKR", "CSC_TSM_SIMULATE", "CSC_AZURE_EMULATOR")}
    if suite == "encfs":
        tools.update({v: need(v) for v in ("CSC_ENCFS", "CSC_ENCFS_IMAGE_TOOL")})
    sh("ip", "link", "set", "lo", "up")
    work = tempfile.mkdtemp(prefix=f"csc-upstream-{suite}-")
    os.makedirs(os.path.join(work, "logs"))
    services = Services(work)
    try:
        private_mounts(services, work)
        policy = os.path.join(work, "security-policy.rego")
        open(policy, "w").write(POLICY)
        ctx = os.path.join(work, "security-context")
        ark, signer = os.path.join(work, "ark.pem"), os.path.join(work, "uvm-signer.pem")
        cache = os.environ.get("CSC_SIMULATE_CACHE") or os.path.join(work, "simulate-keys")
        tsm = services.start("tsm-simulate", [tools["CSC_TSM_SIMULATE"], "--mount", "/sys/kernel/config/tsm/report",
                                              "--security-policy", policy, "--security-context", ctx,
                                              "--ark-out", ark, "--uvm-signer-out", signer, "--key-cache", cache],
                             "stdout-line")
        thim = os.path.join(work, "thim.json")
        open(thim, "wb").write(base64.b64decode(open(os.path.join(ctx, "host-amd-cert-base64")).read()))
        emu_ca = os.path.join(work, "emulator-ca.pem")
        services.start("azure-emulator", [tools["CSC_AZURE_EMULATOR"], "--report-verifier", "pinned",
                                          "--pinned-ark", ark, "--product", tsm["product"],
                                          "--uvm-signer", signer, "--compliance-status", "azure-compliant-uvm",
                                          "--port", "443", "--ca-file", emu_ca, "--thim", thim,
                                          "--hostname", ATTESTATION, "--hostname", HSM], "stdout-line")
        bundle = os.path.join(work, "ca-bundle.pem")
        pems = [open(emu_ca).read()]
        env = dict(os.environ)
        if suite == "encfs":
            st = storage_ca(work)
            pems.append(open(st["ca"]).read())
            azurite = shutil.which("azurite-blob") or sys.exit("upstream harness: azurite-blob is not installed")
            services.start("azurite", [azurite, "--blobHost", "127.0.0.2", "--blobPort", "443",
                                       "--cert", st["cert"], "--key", st["key"], "--oauth", "basic",
                                       "--inMemoryPersistence", "--silent", "--disableTelemetry"],
                           lambda: reachable("127.0.0.2", 443), cwd=work)
        open(bundle, "w").write("".join(pems))
        # podman as ci/images.sh runs it (no default ulimits: the CI machine's limits stand)
        conf = os.path.join(work, "containers.conf")
        open(conf, "w").write("[containers]\ndefault_ulimits = []\n")
        env.setdefault("CONTAINERS_CONF", conf)
        env.update({
            "PATH": os.path.join(HERE, "standins", "bin") + os.pathsep + env.get("PATH", ""),
            "PYTHONPATH": os.path.join(HERE, "standins"),
            "REQUESTS_CA_BUNDLE": bundle,
            "SSL_CERT_FILE": bundle,
            "ATTESTATION_ENDPOINT": ATTESTATION,
            "HSM_ENDPOINT": HSM,
            "STORAGE_ACCOUNT_NAME": ACCOUNT,
            "STORAGE_CONTAINER_NAME": CONTAINER,
            "REGISTRY": "localhost",
            "CSC_CA_BUNDLE": bundle,
            "CSC_IMDS_URL": "https://localhost",
            "CSC_THIM_URL": "https://localhost/metadata/THIM/amd/certification",
            "CSC_TRUST_ARK": ark,
            "CSC_SECURITY_CONTEXT": ctx,
            "CSC_SECURITY_POLICY": policy,
            "CSC_TSM_DIR": "/sys/kernel/config/tsm/report",
            "CSC_LOG_DIR": os.path.join(work, "logs"),
            **tools,
        })
        if suite == "encfs":
            subprocess.run([os.path.join(HERE, "standins", "bin", "az"), "account", "get-access-token"],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            make_container(env)
        tests = os.path.join(work, "tests")
        shutil.copytree(upstream, tests)
        start = time.time()
        r = subprocess.run([sys.executable, "test.py", "-v"], cwd=os.path.join(tests, suite), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode(errors="replace")
        print(out)
        ran = re.search(r"^Ran (\d+) tests?", out, re.M)
        n = int(ran.group(1)) if ran else 0
        if r.returncode != 0 or n != EXPECTED[suite] or not re.search(r"^OK\s*$", out, re.M):
            for f in sorted(os.listdir(os.path.join(work, "logs"))):
                print(f"--- {f} (tail)\n{read(os.path.join(work, 'logs', f))}")
            print(f"upstream {suite} suite: FAILED ({n} tests ran, exit {r.returncode})")
            return 1
        print(f"upstream {suite} suite: {n}/{EXPECTED[suite]} passed against the production sidecars "
              f"({os.environ.get('CSC_SIDECAR_RUNNER', 'binary')}) in {time.time() - start:.0f}s")
        return 0
    finally:
        services.stop()
        if os.environ.get("CSC_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)


def make_container(env):
    import requests
    tok = json.loads(subprocess.run([os.path.join(HERE, "standins", "bin", "az"), "account", "get-access-token",
                                     "--resource", "https://storage.azure.com/"], env=env, check=True,
                                    stdout=subprocess.PIPE).stdout)["accessToken"]
    r = requests.put(f"https://{ACCOUNT}.blob.core.windows.net/{CONTAINER}", params={"restype": "container"},
                     headers={"Authorization": f"Bearer {tok}", "x-ms-version": "2021-08-06"},
                     verify=env["REQUESTS_CA_BUNDLE"], timeout=30)
    if r.status_code not in (201, 409):
        sys.exit(f"upstream harness: creating the storage container: HTTP {r.status_code} {r.text}")


if __name__ == "__main__":
    sys.exit(main())
