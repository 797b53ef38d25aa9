"""A real Orthanc with its DICOMweb plugin, on a free loopback port, with its own storage and config."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    port: int
    process: subprocess.Popen
    users: dict
    log: Path

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.rest}/dicom-web"

    def session(self):
        import requests

        s = requests.Session()
        s.trust_env = False
        if self.users:
            s.auth = next(iter(self.users.items()))
        return s

    def upload(self, paths) -> None:
        """Through Orthanc's own REST API, independent of the code under test."""
        s = self.session()
        for p in paths:
            r = s.post(f"{self.rest}/instances", data=Path(p).read_bytes(), timeout=30)
            r.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def available() -> str | None:
    """Why Orthanc cannot run here, or None."""
    if not shutil.which("Orthanc"):
        return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb; make test does it)"
    if not PLUGIN.exists():
        return f"the DICOMweb plugin {PLUGIN} is missing (apt-get install orthanc-dicomweb)"
    return None


def start(folder: Path, users: dict | None = None, timeout: float = 60, port: int | None = None) -> Orthanc:
    """``port``: the same one again (a restart on the same storage), else a free one."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = {
        "Name": "SGRS-test", "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
        "HttpPort": port, "DicomServerEnabled": False, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": bool(users), "RegisteredUsers": users or {},
        "Plugins": [str(PLUGIN)], "HttpTimeout": 60, "StableAge": 1,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": f"127.0.0.1:{port}",
                     "Ssl": False},
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=1))
    log = folder / "orthanc.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], stdout=out, stderr=subprocess.STDOUT,
                                   cwd=folder)
    server = Orthanc(port, process, users or {}, log)
    end = time.time() + timeout
    while time.time() < end:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited at start: {log.read_text()[-2000:]}")
        try:
            if server.session().get(f"{server.rest}/system", timeout=2).ok:
                return server
        except Exception:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Orthanc did not answer within {timeout} s: {log.read_text()[-2000:]}")
