"""The strongroom server for benchmarks: tests/api's Server, with its stdout going straight to a file
(no Python pipe in the access log's way), and any binary. Import after STRONGROOM_BIN is set."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "api"))
import conftest  # noqa: E402


class BenchServer(conftest.Server):
    def __init__(self, *args, binary=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = binary or conftest.BIN

    def start(self, timeout=15):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "serve", *self.args], env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.data_dir)
        deadline = time.time() + timeout
        while time.time() < deadline and self.port is None:
            for line in open(self.log_path, "rb").read().splitlines():
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "listening":
                    self.port = ev["port"]
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("strongroom did not report listening")
        return self

    def wait_idle(self, timeout=3.0):
        """Waits until the server holds no client connection but the one asking (its
        http_open_connections gauge): wrk's 256 connections of a run are 256 of the 256 allowed per
        address, and a run started while the server still closes the last run's (a few ms to ~20 ms
        after wrk exits, while their last requests finish) gets some refused, which wrk counts as
        read errors."""
        import urllib.request
        deadline = time.time() + timeout
        while time.time() < deadline:
            with urllib.request.urlopen(self.url + "/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("http_open_connections ") and float(line.split()[1]) <= 1:
                        return
            time.sleep(0.01)
