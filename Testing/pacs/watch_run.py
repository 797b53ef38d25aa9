"""``sgrs watch`` as a real process for the tests and the soak: its log read as it grows, the server's SEGs counted
through Orthanc's own REST API (independent of the code under test)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env(**extra) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SGRS_DICOMWEB_") and k != "NETRC"}
    return {**clean, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def command(url: str, out, *extra) -> list[str]:
    return [sys.executable, "-m", "sgrs", "watch", url, "--model", "model", "--out", str(out), "--since", "20250101",
            "--device", "cpu", *map(str, extra)]


def once(url: str, out, *extra, environ=None) -> subprocess.CompletedProcess:
    return subprocess.run(command(url, out, "--once", *extra), capture_output=True, text=True, env=environ or env(),
                          timeout=600)


class Watch:
    """A long-running ``sgrs watch``: stdout and stderr to ``log``."""

    def __init__(self, url: str, out, log: Path, *extra, environ=None):
        self.log = Path(log)
        self.handle = open(self.log, "w")
        self.process = subprocess.Popen(command(url, out, *extra), stdout=self.handle, stderr=subprocess.STDOUT,
                                        env=environ or env())

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 120, count: int = 1) -> str:
        end = time.time() + timeout
        while time.time() < end:
            text = self.text()
            if len(re.findall(pattern, text)) >= count:
                return text
            if self.process.poll() is not None:
                raise AssertionError(f"sgrs watch exited ({self.process.returncode}) before {pattern!r}:\n{text}")
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text()}")

    def stop(self, timeout: float = 60) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.handle.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.handle.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pushed_per_study(server) -> dict:
    """{study UID: {"SEG": n, "SR": n}} of the instances our pushes added (Orthanc's REST API)."""
    s = server.session()
    counts: dict = {}
    for modality in ("SEG", "SR"):
        found = s.post(f"{server.rest}/tools/find", json={"Level": "Instance", "Query": {"Modality": modality},
                                                          "Expand": True, "RequestedTags": ["StudyInstanceUID"]},
                       timeout=60).json()
        for item in found:
            study = item.get("RequestedTags", {}).get("StudyInstanceUID") or s.get(
                f"{server.rest}/instances/{item['ID']}/simplified-tags", timeout=30).json()["StudyInstanceUID"]
            counts.setdefault(study, {"SEG": 0, "SR": 0})[modality] += 1
    return counts
