#!/usr/bin/env python3
"""Footprint of the production skr on its deployed path, against upstream's Go skr in the same
run (run by footprint.sh inside private network and mount namespaces). Ours reads reports from
configfs-tsm, served by tsm-simulate (so the report's signing is in tsm-simulate's process, not
skr's); upstream's runs in its non-SNP mode (no /dev/sev: a fixed fake report), started with a
dummy UVM_HOST_AMD_CERTIFICATE. Both are driven by the same client over loopback. Prints each
figure for both and ours/upstream's ratio:
stripped size, exec to first /status (median of 7), idle RSS, RSS after 10k requests, server
CPU per request (/status and /attest/raw, from /proc/PID/stat), throughput and p50/p99 latency
at 16 keep-alive connections. On a shared machine the start-up median moves with other load;
the fastest of the starts shows each program's own cost."""

import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
CONNS = 16
N_STATUS = 10_000
N_RAW = 2_000
STARTS = 15
RAW_BODY = json.dumps({"runtime_data": base64.b64encode(b"footprint bench").decode()})


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid):
    return sum(cpu_split(pid))


def cpu_split(pid):
    """User and system CPU seconds of `pid`."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) / TICK, int(f[12]) / TICK


def get_status(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/status")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def start(argv, env, port):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while not get_status(port):
        if p.poll() is not None:
            sys.exit(f"footprint: {argv[0]} exited with {p.returncode}")
        if time.perf_counter() - t0 > 30:
            sys.exit(f"footprint: {argv[0]} did not answer /status")
        time.sleep(0.0005)
    return p, (time.perf_counter() - t0) * 1000


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def load(port, method, path, body, total):
    """`total` requests over CONNS keep-alive connections; latencies in ms, wall seconds."""
    per = total // CONNS
    lat = [[] for _ in range(CONNS)]
    errors = []

    def worker(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        for _ in range(per):
            t = time.perf_counter()
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                errors.append(r.status)
            lat[i].append((time.perf_counter() - t) * 1000)
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit(f"footprint: {len(errors)} requests to {path} failed (e.g. HTTP {errors[0]})")
    flat = sorted(x for l in lat for x in l)
    return flat, wall


def pct(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p))]


def stripped_size(path, work):
    copy = os.path.join(work, os.path.basename(path) + f".{abs(hash(path))}.stripped")
    shutil.copy(path, copy)
    subprocess.run(["strip", copy], check=True)
    return os.path.getsize(copy)


def measure(name, argv, env, port, work, binary):
    starts = []
    for _ in range(STARTS):
        p, ms = start(argv, env, port)
        starts.append(ms)
        stop(p)
    p, _ = start(argv, env, port)
    time.sleep(1)
    r = {"name": name, "size": stripped_size(binary, work), "start_ms": statistics.median(starts),
         "start_min_ms": min(starts),
         "idle_rss_kib": rss_kib(p.pid)}
    c0 = cpu_s(p.pid)
    lat, wall = load(port, "GET", "/status", None, N_STATUS)
    r["status_cpu_us"] = (cpu_s(p.pid) - c0) / N_STATUS * 1e6
    r["status_rps"] = N_STATUS / wall
    r["status_p50"], r["status_p99"] = pct(lat, 0.5), pct(lat, 0.99)
    r["rss_10k_kib"] = rss_kib(p.pid)
    u0, s0 = cpu_split(p.pid)
    lat, wall = load(port, "POST", "/attest/raw", RAW_BODY, N_RAW)
    u1, s1 = cpu_split(p.pid)
    r["raw_cpu_us"] = ((u1 - u0) + (s1 - s0)) / N_RAW * 1e6
    r["raw_sys_us"] = (s1 - s0) / N_RAW * 1e6
    r["raw_rps"] = N_RAW / wall
    r["raw_p50"], r["raw_p99"] = pct(lat, 0.5), pct(lat, 0.99)
    r["rss_after_kib"] = rss_kib(p.pid)
    stop(p)
    return r


def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ours_bin = os.environ["CSC_SKR"]
    work = tempfile.mkdtemp(prefix="csc-footprint-")
    tsm = None
    try:
        subprocess.run(["mount", "-t", "tmpfs", "csc-sys-kernel", "/sys/kernel"], check=True)
        os.makedirs("/sys/kernel/config/tsm/report")
        ctx, ark = os.path.join(work, "ctx"), os.path.join(work, "ark.pem")
        tsm = subprocess.Popen([os.environ["CSC_TSM_SIMULATE"], "--mount", "/sys/kernel/config/tsm/report",
                                "--security-context", ctx, "--ark-out", ark,
                                "--key-cache", os.environ.get("CSC_SIMULATE_CACHE", os.path.join(work, "keys"))],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if not tsm.stdout.readline():
            sys.exit("footprint: tsm-simulate did not start")
        env = dict(os.environ, UVM_SECURITY_CONTEXT_DIR=ctx)
        ours = measure("csc-rs skr", [ours_bin, "-port", "18080", "-trust-ark", ark], env, 18080, work, ours_bin)
        results = [ours]
        up_bin = os.environ.get("UPSTREAM_SKR")
        if up_bin and os.path.exists(up_bin):
            dummy = base64.b64encode(json.dumps({"vcekCert": "dummy", "tcbm": "0", "certificateChain": "dummy",
                                                 "cacheControl": "0"}).encode()).decode()
            uenv = dict(os.environ, UVM_HOST_AMD_CERTIFICATE=dummy)
            uenv.pop("UVM_SECURITY_CONTEXT_DIR", None)
            results.append(measure("upstream skr (Go)", [up_bin, "-port", "18081"], uenv, 18081, work, up_bin))
        rows = [("stripped size (MB)", "size", 1e-6),
                (f"exec to first /status (ms, median of {STARTS})", "start_ms", 1),
                (f"exec to first /status (ms, fastest of {STARTS})", "start_min_ms", 1),
                ("idle RSS (MB)", "idle_rss_kib", 1.024e-3), (f"RSS after {N_STATUS} requests (MB)", "rss_10k_kib", 1.024e-3),
                (f"server CPU per /status (us, {N_STATUS} req)", "status_cpu_us", 1),
                (f"server CPU per /attest/raw (us, {N_RAW} req)", "raw_cpu_us", 1),
                ("  of which in the kernel (us)", "raw_sys_us", 1),
                (f"/status throughput at {CONNS} conns (req/s)", "status_rps", 1),
                (f"/status p50 at {CONNS} conns (ms)", "status_p50", 1),
                (f"/status p99 at {CONNS} conns (ms)", "status_p99", 1),
                (f"/attest/raw p99 at {CONNS} conns (ms)", "raw_p99", 1),
                ("RSS after /attest/raw load (MB)", "rss_after_kib", 1.024e-3)]
        print(f"skr footprint, deployed path (ours: production {os.path.basename(ours_bin)} reading "
              f"configfs-tsm from tsm-simulate; upstream: non-SNP mode)")
        head = f"{'':44}{'csc-rs':>12}"
        if len(results) > 1:
            head += f"{'upstream':>12}{'ratio':>8}"
        print(head)
        for label, key, scale in rows:
            line = f"{label:44}{ours[key] * scale:12.2f}"
            if len(results) > 1:
                u = results[1][key] * scale
                line += f"{u:12.2f}{(ours[key] / results[1][key]) if results[1][key] else float('nan'):8.2f}"
            print(line)
        if len(results) == 1:
            print("upstream baseline not given (set UPSTREAM_SKR to upstream's skr binary)")
    finally:
        if tsm is not None:
            tsm.terminate()
            tsm.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
