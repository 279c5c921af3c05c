"""Start and stop a real TorchServe for the end-to-end tests: the repository's config.properties
with free loopback ports, its own pid/log folder, and the archives built by ``make archive``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
TORCHSERVE = ROOT / ".venv" / "bin" / "torchserve"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    inference: str  # TorchServe's own inference address
    management: str
    metrics: str
    workdir: Path
    env: dict
    gateway: str = ""  # the public front door (query parameters, web page)
    gateway_process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.gateway_process is not None:
            self.gateway_process.terminate()
            self.gateway_process.wait(timeout=30)
        with open(self.workdir / "launcher.log", "ab") as log:
            subprocess.run([str(TORCHSERVE), "--stop"], env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, timeout=60)

    def logs(self) -> str:
        path = self.workdir / "logs" / "model_log.log"
        return path.read_text()[-4000:] if path.exists() else "(no model log)"


def write_config(workdir: Path, model_store: Path, models: list[str], source: Path = ROOT / "config.properties") -> tuple[Path, dict]:
    ports = {"inference": free_port(), "management": free_port(), "metrics": free_port()}
    text = source.read_text()
    for name, port in ports.items():
        text = re.sub(rf"^{name}_address=.*$", f"{name}_address=http://127.0.0.1:{port}", text, flags=re.M)
    text = re.sub(r"^model_store=.*$", f"model_store={model_store}", text, flags=re.M)
    text = re.sub(r"^load_models=.*$", "load_models=" + ",".join(f"{m}.mar" for m in models), text, flags=re.M)
    # Worker sockets are named after this port (in /tmp): keep them apart from a running `make serve`.
    text += f"\ninitial_worker_port={free_port()}\n"
    config = workdir / "config.properties"
    config.write_text(text)
    return config, ports


def start(workdir: Path, model_store: Path, models: list[str], timeout: float = 240) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    config, ports = write_config(workdir, model_store, models)
    # TorchServe keeps its pid file in TMPDIR: a private one lets the tests run beside `make serve`.
    env = {**os.environ, "TMPDIR": str(workdir), "LOG_LOCATION": str(workdir / "logs"), "METRICS_LOCATION": str(workdir / "logs")}
    # The launcher's Java child inherits stdout: a file, not a pipe, or run() would wait on it forever.
    with open(workdir / "launcher.log", "wb") as log:
        subprocess.run([str(TORCHSERVE), "--start", "--ncs", "--ts-config", str(config)], env=env, cwd=workdir, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=120)
    server = Server(f"http://127.0.0.1:{ports['inference']}", f"http://127.0.0.1:{ports['management']}", f"http://127.0.0.1:{ports['metrics']}", workdir, env)
    deadline = time.monotonic() + timeout
    pending = set(models)
    while pending and time.monotonic() < deadline:
        for model in list(pending):
            try:
                info = requests.get(f"{server.management}/models/{model}", timeout=5).json()
                if any(w.get("status") == "READY" for w in info[0].get("workers", [])):
                    pending.discard(model)
            except (requests.RequestException, ValueError, KeyError, IndexError):
                pass
        time.sleep(1)
    if pending:
        logs = server.logs()
        server.stop()
        raise RuntimeError(f"TorchServe models not ready after {timeout}s: {sorted(pending)}\n{logs}")
    start_gateway(server)
    return server


def start_gateway(server: Server) -> None:
    port = free_port()
    log = open(server.workdir / "gateway.log", "wb")  # noqa: SIM115 - lives as long as the process
    server.gateway_process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "dronesr.gateway", "--port", str(port), "--upstream", server.inference],
        cwd=ROOT, env={**server.env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT,
    )
    server.gateway = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{server.gateway}/ping", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("the gateway did not start: " + (server.workdir / "gateway.log").read_text())
