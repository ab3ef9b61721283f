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
