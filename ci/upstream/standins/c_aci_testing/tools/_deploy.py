"""What a deployment of a test target is here: the target's containers as processes."""

import base64
import json
import os
import shutil
import socket
import subprocess
import time

PARAMS_FILE = ".csc-aci-params.json"


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"c_aci_testing stand-in: {name} is not set (run through ci/upstream/run.sh)")
    return value


def wait_port(port, what, proc=None, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


def params(target_path):
    path = os.path.join(target_path, PARAMS_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def policy_text():
    with open(env("CSC_SECURITY_POLICY")) as f:
        return f.read()


def log_file(name):
    d = env("CSC_LOG_DIR")
    return open(os.path.join(d, f"{name}.log"), "ab")


class Group:
    """The container group of one deployment."""

    def __init__(self, name):
        self.name = name
        self.procs = []  # (what, Popen, podman container name or None)

    def start(self, what, argv, extra_env=None, cwd=None, container=None):
        e = dict(os.environ)
        e.update(extra_env or {})
        with log_file(f"{self.name}-{what}") as out:
            p = subprocess.Popen(argv, env=e, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.procs.append((what, p, container))
        return p

    def stop(self):
        for what, p, container in reversed(self.procs):
            if container:
                subprocess.run(podman() + ["stop", "-t", "10", container],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if container:
                subprocess.run(podman() + ["rm", "-f", container],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs = []


def podman():
    return os.environ.get("CSC_PODMAN", "podman --runtime runc --cgroup-manager cgroupfs "
                          "--storage-driver vfs").split()


def runner():
    return os.environ.get("CSC_SIDECAR_RUNNER", "binary")


def sidecar_argv(group, binary, image, what, flags, sidecar_env, volumes=(), privileged=False):
    """argv that runs a production sidecar as a binary or as its podman image."""
    if runner() == "podman":
        name = f"csc-{group.name}-{what}-{os.getpid()}"
        argv = podman() + ["run", "--rm", "--name", name, "--network", "host",
                           "--mount", "type=tmpfs,destination=/sys/kernel,notmpcopyup"]
        if privileged:
            argv += ["--privileged"]
        for k, v in sidecar_env.items():
            argv += ["-e", f"{k}={v}"]
        for v in volumes:
            argv += ["-v", v]
        entry = "/skr.sh" if "skr" in image else "/encfs.sh"
        return argv + [image, entry] + flags, {}, name
    return [binary] + flags, sidecar_env, None


def common_flags():
    return ["-cafile", env("CSC_CA_BUNDLE"), "-imds", env("CSC_IMDS_URL"),
            "-trust-ark", env("CSC_TRUST_ARK")]


def common_volumes():
    """Host paths the sidecars read, as container volumes (same paths inside)."""
    vols = [f"{env('CSC_TSM_DIR')}:/sys/kernel/config/tsm/report"]
    for var in ("CSC_CA_BUNDLE", "CSC_TRUST_ARK"):
        vols.append(f"{env(var)}:{env(var)}:ro")
    vols.append(f"{env('CSC_SECURITY_CONTEXT')}:{env('CSC_SECURITY_CONTEXT')}:ro")
    return vols


def skr_env():
    certcache = {"certcache": {"endpoint_type": "LocalTHIM", "endpoint": env("CSC_THIM_URL")}}
    return {
        "SkrSideCarArgs": base64.b64encode(json.dumps(certcache).encode()).decode(),
        "UVM_SECURITY_CONTEXT_DIR": env("CSC_SECURITY_CONTEXT"),
        "LogLevel": "info",
    }


def deploy_skr(group, target_path):
    """skr.bicep: an HTTP skr on 8080, a gRPC skr on 50000, proxy.py on 8000."""
    image = os.environ.get("CSC_SKR_IMAGE", "csc-skr:ci")
    for what, extra in (("http-sidecar", {}), ("grpc-sidecar", {"ServerType": "grpc", "Port": "50000"})):
        e = dict(skr_env(), **extra)
        argv, e2, name = sidecar_argv(group, env("CSC_SKR"), image, what, common_flags(), e,
                                      volumes=common_volumes())
        if name is None:
            e2 = e
        group.start(what, argv, e2, container=name)
    wait_port(8080, "http-sidecar", group.procs[0][1])
    wait_port(50000, "grpc-sidecar", group.procs[1][1])
    proxy = group.start("proxy", ["python3", "proxy.py"], cwd=target_path)
    wait_port(8000, "proxy", proxy)


def deploy_encfs(group, target_path):
    """encfs.bicep: the encfs sidecar (privileged) and the primary container sharing
    /mnt/remote, primary.py on 8000."""
    p = params(target_path)
    args = p.get("sidecarArgsB64", "")
    os.makedirs("/mnt/remote", exist_ok=True)
    e = {
        "EncfsSideCarArgs": args,
        "UVM_SECURITY_CONTEXT_DIR": env("CSC_SECURITY_CONTEXT"),
        "LogLevel": "info",
    }
    image = os.environ.get("CSC_ENCFS_IMAGE", "csc-encfs:ci")
    ready = os.path.join(env("CSC_LOG_DIR"), f"{group.name}-encfs-ready")
    flags = common_flags() + ["-readyfile", ready]
    argv, e2, name = sidecar_argv(group, env("CSC_ENCFS"), image, "sidecar", flags, e,
                                  volumes=common_volumes() + ["/mnt/remote:/mnt/remote:rshared",
                                                              f"{env('CSC_LOG_DIR')}:{env('CSC_LOG_DIR')}"],
                                  privileged=True)
    if name is None:
        e2 = e
    sidecar = group.start("sidecar", argv, e2, container=name)
    deadline = time.time() + 180
    while time.time() < deadline:
        if sidecar.poll() is not None:
            raise RuntimeError(f"encfs exited with {sidecar.returncode} before it was ready")
        if os.path.exists(ready):
            with open(ready) as f:
                if f.read().strip() == "1":
                    break
        time.sleep(0.2)
    else:
        raise RuntimeError("encfs was not ready within 180s")
    primary = group.start("primary", ["python3", "primary.py"], {"ENCFS_MOUNT": "/mnt/remote"},
                          cwd=target_path)
    wait_port(8000, "primary", primary)


TARGETS = {"skr": deploy_skr, "encfs": deploy_encfs}


def write_policy(target_path):
    name = os.path.basename(os.path.normpath(target_path))
    with open(os.path.join(target_path, f"policy_{name}.rego"), "w") as f:
        f.write(policy_text())
    return name


def copy_tree_files(src, dst):
    shutil.copytree(src, dst, dirs_exist_ok=True)
