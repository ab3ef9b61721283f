"""The server's memory while 20 clients list a vault at its size bound at once (issue 14, SPEC 14).

Fills one vault to vault_max_bytes (default 16 MiB, counted as the entries' JSON renderings), then
has 20 clients list it at once, ROUNDS times: walking it in pages (limit=500), and asking for the
whole list. Prints, per backend, the server's RSS when idle (after the fill) and its peak RSS
during each load (VmHWM, reset through /proc/PID/clear_refs before each), as a markdown table.
Loopback only.

  /usr/bin/python3 bench/vault_list_memory.py --build build    # SR_TEST_PG_URL set: PostgreSQL too
"""
import argparse
import json
import os
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--clients", type=int, default=20)
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()
os.environ["STRONGROOM_BIN"] = os.path.abspath(os.path.join(args.build, "strongroom"))
os.environ.setdefault("SR_TEST_ALLOW_NO_PG", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "api"))
from conftest import Server, backends, unlocked  # noqa: E402

BOUND = 16 * 1024 * 1024


def rendering(fields):
    return len(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(key)


def fill(c):
    used, n = 0, 0
    while True:
        f = {"domain": f"site{n}.example", "account_name": f"account-{n}", "pin_or_password": "p" * 64,
             "url": f"https://site{n}.example/login", "notes": "n" * 10000}
        size = rendering(f)
        if used + size > BOUND:
            f["notes"] = "n" * (10000 - (used + size - BOUND))
            if rendering(f) + used > BOUND or len(f["notes"]) < 1:
                return n, used
        r = c.post("/vault/add", f)
        if r.status_code != 201:
            raise RuntimeError(f"add: {r.status_code} {r.text[:200]}")
        used += rendering(f)
        n += 1
        if used == BOUND:
            return n, used


def load(server, clients, paged):
    pid = server.proc.pid
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    errors = []
    start = threading.Barrier(len(clients))

    def one(c):
        start.wait()
        try:
            if paged:
                after = None
                while True:
                    q = "?limit=500" + (f"&after={after}" if after is not None else "")
                    body = c.get("/vault/entries" + q).json()
                    after = body["next_after"]
                    if after is None:
                        break
            else:
                r = c.get("/vault/entries")
                assert r.status_code == 200 and len(r.content) > BOUND // 2
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(repr(e))

    t0 = time.monotonic()
    ts = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return status_kib(pid, "VmHWM"), time.monotonic() - t0


def main():
    rows = []
    for backend in backends():
        s = Server(backend=backend, env={"STRONGROOM_RATE_LIMIT_SCALE": "100000"}).start()
        try:
            owner = unlocked(s)
            n, used = fill(owner)
            clients = [owner]
            while len(clients) < args.clients:
                o = owner.another_session()
                r = o.post("/vault/unlock-vault", {"vault_password": "my vault has its own words 9"})
                assert r.status_code == 200, r.text
                clients.append(o)
            whole = owner.get("/vault/entries").content
            time.sleep(1)
            idle = status_kib(s.proc.pid, "VmRSS")
            for paged in (True, False):
                peaks = [load(s, clients, paged) for _ in range(args.rounds)]
                peak = max(p for p, _ in peaks)
                secs = sum(t for _, t in peaks) / len(peaks)
                rows.append((backend, n, used, len(whole), "pages of 500" if paged else "whole list",
                             idle, peak, secs))
        finally:
            s.cleanup()
    print(f"| backend | entries | bytes (renderings) | whole list body | {args.clients} clients list by "
          f"| RSS idle | peak RSS | growth | s per round |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b, n, used, body, how, idle, peak, secs in rows:
        print(f"| {b} | {n} | {used / 2**20:.1f} MiB | {body / 2**20:.1f} MiB | {how} | {idle / 1024:.1f} MiB "
              f"| {peak / 1024:.1f} MiB | {(peak - idle) / 1024:.1f} MiB | {secs:.1f} |")


main()
