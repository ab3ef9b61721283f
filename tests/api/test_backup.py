"""Backups and restore of the SQLite database (SPEC 16): online copies taken by the running server
(SIGUSR1, `strongroom backup`, the schedule) while writes continue, checked, 0600, rotated;
`strongroom restore` into a fresh data directory; refusals; PostgreSQL's exit 2."""
import base64
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import BIN, PG_URL, STRONG, Client, Server, uname

NAME = re.compile(r"strongroom-\d{8}T\d{6}Z\.db")


def cli(args, data_dir, env=None, timeout=120):
    e = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    e.update({"STRONGROOM_PROFILE": "test", "STRONGROOM_DATA_DIR": data_dir})
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, capture_output=True, text=True, timeout=timeout)


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events(server, name):
    return [e for e in server.log_events() if e.get("event") == name]


def integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()


def link_ids(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0] for r in con.execute("SELECT id FROM social_links")}
    finally:
        con.close()


def assert_good_backup(path, backup_dir):
    assert NAME.fullmatch(os.path.basename(path)), path
    assert os.path.dirname(path) == backup_dir
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(backup_dir).st_mode) == 0o700
    assert integrity(path) == ["ok"]
    with open(path, "rb") as f:
        header = f.read(20)
    # One self-contained file: rollback-journal format (1, 1), not WAL (2, 2), no -wal beside it.
    assert header[:16] == b"SQLite format 3\x00" and header[18:20] == b"\x01\x01", header
    assert not os.path.exists(path + "-wal")


class Writers:
    """Threads that add social links as fast as the server answers and record every acknowledged
    id with the monotonic time of its answer. Each thread moves on to a new user when one reaches
    the cap of 50 links, so that nothing acknowledged is ever deleted."""

    def __init__(self, server, n=3):
        self.server = server
        self.clients = []
        self.acked = []  # (time, client index, link id)
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]

    def new_client(self):
        c = Client(self.server)
        c.signup()
        c.signin()
        with self.lock:
            self.clients.append(c)
            return len(self.clients) - 1, c

    def run(self):
        try:
            i, c = self.new_client()
            k = 0
            while not self.stop.is_set():
                if k == 50:
                    i, c = self.new_client()
                    k = 0
                k += 1
                r = c.post("/social/links", {"platform": f"p{k}", "url": f"https://example.org/{i}/{k}"})
                if r.status_code != 201:
                    self.failures.append(r.status_code)
                    continue
                with self.lock:
                    self.acked.append((time.monotonic(), i, r.json()["id"]))
        except Exception as e:  # noqa: BLE001 -- reported by the test
            self.failures.append(repr(e))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def acked_before(self, t):
        with self.lock:
            return [(i, lid) for (ta, i, lid) in self.acked if ta < t]

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_backup_under_load_by_signal_and_cli_then_restore(make_server):
    s = make_server(profile="development")
    backup_dir = os.path.join(s.data_dir, "backups")
    w = Writers(s).start()
    try:
        wait_for(lambda: w.count() >= 30, "the first writes")
        # SIGUSR1 while the writers keep going.
        t_signal = time.monotonic()
        s.proc.send_signal(signal.SIGUSR1)
        created = wait_for(lambda: events(s, "backup.created"), "backup.created")
        assert created[0]["trigger"] == "signal"
        by_signal = created[0]["path"]
        n_after_signal = w.count()
        wait_for(lambda: w.count() >= n_after_signal + 20, "writes after the first backup")
        # Names have one-second resolution (a second backup within the same second replaces the
        # first): let the clock move on so that both files stay to be checked.
        stamp = os.path.basename(by_signal)[len("strongroom-"):-len(".db")]
        wait_for(lambda: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) > stamp, "the next second")
        # `strongroom backup` asks the running server.
        t_cli = time.monotonic()
        r = cli(["backup"], s.data_dir, env={"STRONGROOM_PROFILE": "development"})
        assert r.returncode == 0, r.stderr
        by_cli = r.stdout.strip()
        created = wait_for(lambda: len(events(s, "backup.created")) == 2 and events(s, "backup.created"),
                           "the second backup.created")
        assert [e["trigger"] for e in created] == ["signal", "cli"]
        assert created[1]["path"] == by_cli
        n_after_cli = w.count()
        wait_for(lambda: w.count() >= n_after_cli + 20, "writes after the second backup")
    finally:
        w.finish()
    assert w.failures == [], w.failures[:5]

    for path, t0 in ((by_signal, t_signal), (by_cli, t_cli)):
        assert_good_backup(path, backup_dir)
        before = w.acked_before(t0)
        assert len(before) >= 30
        missing = {lid for _, lid in before} - link_ids(path)
        assert not missing, f"{len(missing)} acknowledged writes missing from {path}"
    assert sorted(os.listdir(backup_dir)) == sorted(os.path.basename(p) for p in (by_signal, by_cli))

    # The secrets stay out of every backup (they live in <data_dir>/secrets).
    secrets = {}
    with open(os.path.join(s.data_dir, "secrets")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                secrets[k] = v
    assert secrets
    for path in (by_signal, by_cli):
        with open(path, "rb") as f:
            blob = f.read()
        for v in secrets.values():
            raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
            assert v.encode() not in blob and raw not in blob

    # Restore the CLI's backup into a fresh data directory and serve it.
    fresh = tempfile.mkdtemp(prefix="sr-restore-")
    try:
        target = os.path.join(fresh, "data")
        r = cli(["restore", by_cli], target)
        assert r.returncode == 0, r.stderr
        assert "before-restore" not in r.stdout  # there was no database to keep
        db = os.path.join(target, "strongroom.db")
        assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
        assert integrity(db) == ["ok"]
        restored = make_server(data_dir=target)
        before = w.acked_before(t_cli)
        con = sqlite3.connect(f"file:{by_cli}?mode=ro", uri=True)
        for i, c in enumerate(w.clients):
            in_backup = {r[0] for r in con.execute("SELECT id FROM social_links WHERE user_id = ?", (c.user_id,))}
            assert {lid for (j, lid) in before if j == i} <= in_backup
            if not in_backup:
                continue  # a user who signed up after the backup
            c2 = Client(restored)
            c2.username, c2.password = c.username, c.password
            c2.signin()
            assert {link["id"] for link in c2.get("/social/links").json()["links"]} == in_backup
        con.close()
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def test_rotation_keeps_backup_keep_newest_and_nothing_else(make_server):
    s = make_server(env={"STRONGROOM_BACKUP_KEEP": "2"})
    backup_dir = os.path.join(s.data_dir, "backups")
    os.mkdir(backup_dir, 0o700)
    old = ["strongroom-20000101T000000Z.db", "strongroom-20000102T000000Z.db", "strongroom-20000103T000000Z.db"]
    others = ["notes.txt", "strongroom-latest.db", "strongroom-2000.db"]
    for n in old + others:
        with open(os.path.join(backup_dir, n), "w") as f:
            f.write("x")
    r = cli(["backup"], s.data_dir, env={"STRONGROOM_BACKUP_KEEP": "2"})
    assert r.returncode == 0, r.stderr
    new = os.path.basename(r.stdout.strip())
    assert sorted(os.listdir(backup_dir)) == sorted([new, old[-1]] + others)
    ev = wait_for(lambda: events(s, "backup.created"), "backup.created")[-1]
    assert ev["removed"] == 2 and ev["trigger"] == "cli"


def test_schedule_metrics_and_failures(make_server):
    s = make_server(env={"STRONGROOM_BACKUP_INTERVAL": "1"})
    wait_for(lambda: len(events(s, "backup.created")) >= 2, "two scheduled backups", timeout=30)
    assert {e["trigger"] for e in events(s, "backup.created")} == {"schedule"}
    m = requests.get(s.url + "/metrics", timeout=10).text
    ts = float(re.search(r"^strongroom_backup_last_success_timestamp_seconds (\S+)$", m, re.M).group(1))
    assert abs(ts - time.time()) < 60
    assert re.search(r"^strongroom_backup_failures_total 0$", m, re.M), m

    # A backup_dir whose parent does not exist: every trigger fails, counted and told.
    bad = make_server(env={"STRONGROOM_BACKUP_DIR": "/nonexistent-sr-parent/backups"})
    m = requests.get(bad.url + "/metrics", timeout=10).text
    assert re.search(r"^strongroom_backup_last_success_timestamp_seconds 0$", m, re.M), m
    r = cli(["backup"], bad.data_dir, env={"STRONGROOM_BACKUP_DIR": "/nonexistent-sr-parent/backups"})
    assert r.returncode == 1 and r.stdout == ""
    assert "nonexistent-sr-parent" in r.stderr
    bad.proc.send_signal(signal.SIGUSR1)
    failed = wait_for(lambda: len(events(bad, "backup.failed")) >= 2 and events(bad, "backup.failed"), "backup.failed")
    assert [e["trigger"] for e in failed] == ["cli", "signal"]
    m = requests.get(bad.url + "/metrics", timeout=10).text
    assert re.search(r"^strongroom_backup_failures_total 2$", m, re.M), m


def test_pid_file_and_stale_pid_file(make_server):
    s = make_server()
    pid_path = os.path.join(s.data_dir, "strongroom.pid")
    with open(pid_path) as f:
        assert f.read().strip() == str(s.proc.pid)
    assert stat.S_IMODE(os.stat(pid_path).st_mode) == 0o600
    s.kill9()
    # Left behind by the crash, naming a dead process: not a server.
    assert os.path.exists(pid_path)
    r = cli(["backup"], s.data_dir)
    assert r.returncode == 0, r.stderr
    assert "no server runs" in r.stderr
    assert_good_backup(r.stdout.strip(), os.path.join(s.data_dir, "backups"))
    # A pid file naming a live process that is not a server (pid 1) is stale too: never signalled.
    with open(pid_path, "w") as f:
        f.write("1\n")
    r = cli(["backup"], s.data_dir)
    assert r.returncode == 0 and "no server runs" in r.stderr, r.stderr
    # A new server takes the file over; a clean stop removes it.
    s2 = make_server(data_dir=s.data_dir)
    with open(pid_path) as f:
        assert f.read().strip() == str(s2.proc.pid)
    assert s2.stop() == 0
    assert not os.path.exists(pid_path)
    assert not os.path.exists(os.path.join(s.data_dir, "strongroom.sock"))


def test_restore_refuses_while_a_server_runs(make_server):
    s = make_server()
    c = Client(s)
    c.signup()
    r = cli(["backup"], s.data_dir)
    assert r.returncode == 0, r.stderr
    r2 = cli(["restore", r.stdout.strip()], s.data_dir)
    assert r2.returncode == 1
    assert f"pid {s.proc.pid}" in r2.stderr and "stop it first" in r2.stderr
    assert not [n for n in os.listdir(s.data_dir) if "before-restore" in n]
    c.signin()  # still serving its own database
    assert c.get("/personal/me").status_code == 200


def test_restore_refuses_damaged_and_foreign_files(make_server, tmp_path):
    s = make_server()
    Client(s).signup()
    good = cli(["backup"], s.data_dir).stdout.strip()
    assert s.stop() == 0
    db = os.path.join(s.data_dir, "strongroom.db")
    with open(db, "rb") as f:
        current = f.read()

    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    newer = tmp_path / "newer.db"
    shutil.copy(good, newer)
    con = sqlite3.connect(newer)
    con.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)")
    con.commit()
    con.close()
    damaged = tmp_path / "damaged.db"
    data = bytearray(open(good, "rb").read())
    page = int.from_bytes(data[16:18], "big")
    for off in range(page, len(data), page):  # the header of every b-tree page after the first
        data[off:off + 4] = b"\xff\xff\xff\xff"
    damaged.write_bytes(bytes(data))

    cases = {junk: "not a usable SQLite database", empty: "not a strongroom database",
             foreign: "not a strongroom database", newer: "newer than this binary",
             damaged: ""}
    for path, why in cases.items():
        r = cli(["restore", str(path)], s.data_dir)
        assert r.returncode == 1, (path, r.stdout, r.stderr)
        assert "restore failed" in r.stderr and why in r.stderr, r.stderr
    r = cli(["restore", str(tmp_path / "missing.db")], s.data_dir)
    assert r.returncode == 1 and "restore failed" in r.stderr
    with open(db, "rb") as f:
        assert f.read() == current
    assert not [n for n in os.listdir(s.data_dir) if "before-restore" in n or n.endswith(".tmp")]


def test_restore_keeps_the_current_database_with_its_wal(make_server):
    s = make_server()
    a = Client(s)
    a.signup()
    good = cli(["backup"], s.data_dir).stdout.strip()
    b = Client(s)
    b.signup()  # after the backup: in the current database only
    s.kill9()  # leaves strongroom.db-wal with b's commit not yet checkpointed
    db = os.path.join(s.data_dir, "strongroom.db")
    r = cli(["restore", good], s.data_dir)
    assert r.returncode == 0, r.stderr
    kept = re.search(r"kept as (\S+)", r.stdout).group(1)
    assert re.fullmatch(re.escape(db) + r"\.before-restore-\d{8}T\d{6}Z", kept)
    assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")
    con = sqlite3.connect(f"file:{kept}", uri=True)
    assert {r[0] for r in con.execute("SELECT username FROM users")} == {a.username, b.username}
    con.close()
    s2 = make_server(data_dir=s.data_dir)
    a2 = Client(s2)
    a2.username, a2.password = a.username, a.password
    a2.signin()
    r = requests.post(s2.url + "/auth/signin", json={"username": b.username, "password": STRONG}, timeout=30)
    assert r.status_code == 401  # b came after the backup


@pytest.mark.skipif(not PG_URL, reason="needs SR_TEST_PG_URL")
def test_postgresql_explains_and_exits_2(make_server):
    d = tempfile.mkdtemp(prefix="sr-pgbackup-")
    try:
        env = {"STRONGROOM_DATABASE_URL": PG_URL}
        r = cli(["backup"], d, env=env)
        assert r.returncode == 2 and r.stdout == ""
        assert "pg_dump" in r.stderr and "point-in-time" in r.stderr
        r = cli(["restore", "/dev/null"], d, env=env)
        assert r.returncode == 2 and "pg_restore" in r.stderr
        s = make_server(backend="postgresql", data_dir=d)
        s.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: events(s, "backup.unsupported"), "backup.unsupported")
        assert requests.get(s.url + "/healthz", timeout=10).status_code == 200
        assert not os.path.exists(os.path.join(d, "backups"))
        assert not os.path.exists(os.path.join(d, "strongroom.sock"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_control_socket_answers_only_its_user_and_one_command(make_server):
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    s = make_server()
    path = os.path.join(s.data_dir, "strongroom.sock")

    def ask(data, user=None):
        code = ("import socket,sys; c=socket.socket(socket.AF_UNIX); c.settimeout(20); c.connect(sys.argv[1]); "
                "c.sendall(sys.stdin.buffer.read()); print(c.recv(4096).decode(), end='')")
        cmd = ["/usr/bin/python3", "-c", code, path]
        if user:
            cmd = ["runuser", "-u", user, "--"] + cmd
        return subprocess.run(cmd, input=data, capture_output=True, timeout=60).stdout.decode()

    # Another user who can reach the socket (the modes opened up for the test) is refused.
    os.chmod(s.data_dir, 0o755)
    os.chmod(path, 0o666)
    assert ask(b"backup\n", user="nobody").startswith("error forbidden")
    assert ask(b"restore /etc/passwd\n") == "error unknown command\n"
    assert ask(b"backup" + b"x" * 10000 + b"\n") == ""  # an over-long line: dropped unanswered
    # A client that connects and says nothing does not hold the socket for ever.
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(path)
    try:
        assert ask(b"backup\n").startswith("ok ")
    finally:
        idle.close()
    # Only that last request made a backup: the control socket answers one request after the
    # other, so a backup made for an earlier one would be logged before this one's.
    created = wait_for(lambda: events(s, "backup.created"), "backup.created")
    assert [e["trigger"] for e in created] == ["cli"]
    assert len(os.listdir(os.path.join(s.data_dir, "backups"))) == 1
