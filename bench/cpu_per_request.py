"""CPU per request of an authenticated GET, on each backend: the server's own CPU, PostgreSQL's
(every process of the test cluster: the backends and the postmaster's helpers), and the server's
context switches, each divided by the requests wrk completed. Less noisy than req/s on shared
cores; run several binaries in one sitting to compare them (loopback only).

  set -a; . /tmp/pg.env; set +a          # scripts/pg-test.sh start /tmp/pg.env
  /usr/bin/python3 bench/cpu_per_request.py --bin build/strongroom --bin /tmp/main/strongroom \\
      --path /personal/me --rounds 3
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "api"))
ap = argparse.ArgumentParser()
ap.add_argument("--bin", action="append", required=True, help="strongroom binaries to compare")
ap.add_argument("--path", default="/personal/me")
ap.add_argument("--duration", default="6s")
ap.add_argument("--threads", default="2", help="wrk threads")
ap.add_argument("--conns", default="256", help="wrk connections")
ap.add_argument("--rounds", type=int, default=2, help="runs per binary and backend, interleaved")
ap.add_argument("--backend", action="append", help="sqlite and/or postgresql (default both)")
ap.add_argument("--perf", help="also record a perf profile of the server into this file prefix")
args = ap.parse_args()
os.environ.setdefault("STRONGROOM_BIN", os.path.abspath(args.bin[0]))
import conftest  # noqa: E402
from bench_server import BenchServer  # noqa: E402
from conftest import Client  # noqa: E402

LUA = os.path.join(os.path.dirname(__file__), "lua", "bearer_get.lua")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime + stime


def minflt(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[7])  # minor page faults


def sys_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[12]) / TICK  # stime: the kernel's part


def ctx_switches(pid):
    n = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in open(f"/proc/{pid}/task/{t}/status"):
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    n += int(line.split()[1])
        except FileNotFoundError:
            pass
    return n


def pg_pids():
    """The test cluster's postmaster and its children (not another helper's cluster)."""
    d = os.environ.get("PGTEST_DIR")
    if not d:
        return []
    master = int(open(os.path.join(d, "data", "postmaster.pid")).readline())
    pids = [master]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == master:
                    pids.append(int(p))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def pg_cpu_s():
    total = 0.0
    for p in pg_pids():
        try:
            total += cpu_s(p)
        except FileNotFoundError:
            pass  # a backend that ended: its CPU is lost to us, and small
    return total


def measure(binary, backend):
    if backend == "postgresql":  # each binary migrates its own schema from nothing
        subprocess.run(["psql", "-X", "-q", "-d", conftest.PG_URL, "-c",
                        "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"], check=True,
                       capture_output=True)
    s = BenchServer(backend=backend, env={"STRONGROOM_RATE_LIMIT_SCALE": "1000000"}, binary=binary)
    s.start()
    try:
        c = Client(s)
        c.signup()
        c.signin()
        c.s.close()  # else it is the 257th connection of 127.0.0.1 beside wrk's 256: one over the limit
        env = dict(os.environ, SR_TOKEN=c.access)
        # warm up (connections opened, statements prepared)
        subprocess.run(["wrk", "-t1", "-c8", "-d1s", "-s", LUA, s.url + args.path], env=env,
                       capture_output=True)
        pid = s.proc.pid
        s.wait_idle()  # the warm-up's connections closed: wrk's 256 are all an address may open
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "2999", "-o",
                                     f"{args.perf}.{os.path.basename(binary)}.{backend}.data",
                                     "-p", str(pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        c0, k0, x0, p0, f0 = cpu_s(pid), sys_s(pid), ctx_switches(pid), pg_cpu_s(), minflt(pid)
        out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.conns}", f"-d{args.duration}",
                              "-s", LUA, s.url + args.path], env=env, capture_output=True,
                             text=True).stdout
        c1, k1, x1, p1, f1 = cpu_s(pid), sys_s(pid), ctx_switches(pid), pg_cpu_s(), minflt(pid)
        if perf:
            perf.send_signal(2)
            perf.wait()
        reqs = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return {"rps": rps, "server_us": (c1 - c0) / reqs * 1e6,
                "kernel_us": (k1 - k0) / reqs * 1e6, "pg_us": (p1 - p0) / reqs * 1e6,
                "ctx": (x1 - x0) / reqs, "faults": (f1 - f0) / reqs, "non2xx": int(bad.group(1)) if bad else 0}
    finally:
        s.cleanup()


backends = args.backend or conftest.backends()
print(f"{args.path}, wrk -t{args.threads} -c{args.conns} {args.duration}, load {os.getloadavg()[0]:.1f}")
print("| binary | backend | req/s | server CPU µs/req | of which kernel | PostgreSQL CPU µs/req | "
      "server context switches/req | page faults/req | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|")
for _ in range(args.rounds):
    for b in args.bin:
        for backend in backends:
            r = measure(os.path.abspath(b), backend)
            pg = f"{r['pg_us']:.1f}" if backend == "postgresql" else "-"
            print(f"| {b} | {backend} | {r['rps']:,.0f} | {r['server_us']:.1f} | {r['kernel_us']:.1f} | {pg} | "
                  f"{r['ctx']:.2f} | {r['faults']:.3f} | "
                  f"{r['non2xx']} |", flush=True)
