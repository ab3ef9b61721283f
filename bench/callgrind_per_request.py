#!/usr/bin/env python3
"""Instructions per request under callgrind (deterministic, so a loaded machine does not skew it).

Usage: [CG_SHAPE=wrk] /usr/bin/python3 bench/callgrind_per_request.py BINARY N [DATABASE_URL]
Starts BINARY (test profile, SQLite or the PostgreSQL DATABASE_URL, one network thread) under valgrind --tool=callgrind, signs up,
signs in, adds a link, then for each route: 20 warm-up requests, zero the counters
(callgrind_control -z), N requests, dump (callgrind_control -d); prints instructions per request
(all threads of the process) as JSON. Compare two binaries in one sitting (docs/benchmarks.md)."""
import json, os, socket, subprocess, sys, tempfile, threading, time, glob, re, requests
BIN, N = os.path.abspath(sys.argv[1]), int(sys.argv[2])  # the server runs in a temporary directory
DB = sys.argv[3] if len(sys.argv) > 3 else None
d = tempfile.mkdtemp(prefix="cg-")
out = os.path.join(d, "cg.out")
env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
env.update({"STRONGROOM_PROFILE": "test", "STRONGROOM_LISTEN": "127.0.0.1:0", "STRONGROOM_DATA_DIR": d + "/data",
            "STRONGROOM_THREADS": "1", "STRONGROOM_HASH_WORKERS": "1", "STRONGROOM_RATE_LIMIT_SCALE": "100000"})
if DB:
    env["STRONGROOM_DATABASE_URL"] = DB
os.makedirs(d + "/data", mode=0o700)
print("callgrind output in", d, file=sys.stderr)
p = subprocess.Popen(["valgrind", "--tool=callgrind", *os.environ.get("CG_EXTRA", "").split(), "--compress-strings=no", "--compress-pos=no", f"--callgrind-out-file={out}", BIN, "serve"], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=d, text=True)
port = None
t0 = time.time()
while time.time() - t0 < 120:
    line = p.stdout.readline()
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == "listening":
        port = ev["port"]; break
# The server logs a line a request to stdout: drain it, or the pipe fills, the logger blocks and
# with it, once its queue is full, the server (a stall that looks like a hang of the server).
threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
u = f"http://127.0.0.1:{port}"
s = requests.Session()
pw = "correct horse battery staple 42"
user = "cg" + os.urandom(4).hex()  # a PostgreSQL database may keep users of earlier runs
s.post(u + "/auth/signup", json={"username": user, "email": user + "@example.com", "password": pw}, timeout=300)
tok = s.post(u + "/auth/signin", json={"username": user, "password": pw, "return_tokens": True}, timeout=300).json()["access_token"]
h = {"Authorization": "Bearer " + tok}
s.post(u + "/social/links", json={"platform": "github", "url": "https://github.com/x"}, headers=h, timeout=60)
# CG_SHAPE=wrk: the request as `make bench`'s wrk sends it (Host and Authorization only, one
# keep-alive socket); default: python-requests' (User-Agent, Accept, Accept-Encoding, Connection
# and the session's cookies besides).
WRK = os.environ.get("CG_SHAPE") == "wrk"
raw = socket.create_connection(("127.0.0.1", port)) if WRK else None


def get(method, path):
    if not WRK:
        return s.request(method, u + path, headers=h, timeout=60).status_code
    raw.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += raw.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(body) < n:
        body += raw.recv(65536)
    return int(head.split(b" ")[1])


res = {}
for name, method, path in [("GET /healthz", "GET", "/healthz"), ("GET /personal/me", "GET", "/personal/me"),
                           ("GET /social/links", "GET", "/social/links")]:
    for _ in range(20):
        get(method, path)  # warm
    subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
    for _ in range(N):
        status = get(method, path)
        assert status == 200, (path, status)
    before = set(glob.glob(out + "*"))
    subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
    time.sleep(1)
    new = sorted(set(glob.glob(out + "*")) - before) or sorted(glob.glob(out + "*"))
    total = 0
    for f in new:
        for line in open(f):
            m = re.match(r"summary: (\d+)", line) or re.match(r"totals: (\d+)", line)
            if m: total = max(total, int(m.group(1)))
    res[name] = total / N
print(json.dumps(res), flush=True)
p.kill(); p.wait(60)
