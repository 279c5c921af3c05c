"""Start and stop a real TorchServe for the end-to-end tests and the benchmarks: the repository's
config.properties with free loopback ports, its own pid/log folder, the archives built by
``make archive``, and the page's server beside it."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from harness import ROOT, ts_setting

TORCHSERVE = ROOT / ".venv" / "bin" / "torchserve"
GUARD_PREFIX = "dronesr.tsguard."  # the connection guard's settings in vmargs (tsguard/)


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
    page: str = ""  # the web page's own static server (its origin is TorchServe's CORS origin)
    page_process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.page_process is not None:
            self.page_process.terminate()
            self.page_process.wait(timeout=30)
        with open(self.workdir / "launcher.log", "ab") as log:
            subprocess.run([str(TORCHSERVE), "--stop"], env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, timeout=60)

    def logs(self) -> str:
        path = self.workdir / "logs" / "model_log.log"
        return path.read_text()[-4000:] if path.exists() else "(no model log)"


def write_config(workdir: Path, model_store: Path, models: list[str], source: Path = ROOT / "config.properties", guard: dict[str, int] | None = None) -> tuple[Path, dict]:
    """The config TorchServe runs with here; ``guard`` overrides limits of the connection guard
    (``{"request_timeout_s": 2}``: tests that wait for a timeout)."""
    ports = {"inference": free_port(), "management": free_port(), "metrics": free_port(), "page": free_port()}
    text = source.read_text()
    for name in ("inference", "management", "metrics"):
        text = re.sub(rf"^{name}_address=.*$", f"{name}_address=http://127.0.0.1:{ports[name]}", text, flags=re.M)
    text = re.sub(r"^cors_allowed_origin=.*$", f"cors_allowed_origin=http://127.0.0.1:{ports['page']}", text, flags=re.M)
    text = re.sub(r"^model_store=.*$", f"model_store={model_store}", text, flags=re.M)
    text = re.sub(r"^load_models=.*$", "load_models=" + ",".join(f"{m}.mar" for m in models), text, flags=re.M)
    # TorchServe runs in workdir: the guard's jar by its absolute path
    text = re.sub(r"-javaagent:(\S+)", lambda m: f"-javaagent:{ROOT / m.group(1)}", text)
    for name, value in (guard or {}).items():
        text, count = re.subn(rf"-D{GUARD_PREFIX}{name}=\S+", f"-D{GUARD_PREFIX}{name}={value}", text)
        assert count == 1, f"config.properties' vmargs has no {GUARD_PREFIX}{name}"
    text += private_ports()
    config = workdir / "config.properties"
    config.write_text(text)
    return config, ports


def private_ports() -> str:
    """Ports TorchServe takes even when unused: gRPC (7070/7071 by default; a second server on the
    machine would exit) and the worker sockets' base (/tmp/.ts.sock.<port>)."""
    return f"\ngrpc_inference_port={free_port()}\ngrpc_management_port={free_port()}\ninitial_worker_port={free_port()}\n"


def torchserve_env(workdir: Path, **extra: str) -> dict:
    """TorchServe keeps its pid file in TMPDIR: a private one lets the tests run beside `make serve`."""
    return {**os.environ, "TMPDIR": str(workdir), "LOG_LOCATION": str(workdir / "logs"), "METRICS_LOCATION": str(workdir / "logs"), **extra}


def launch(workdir: Path, env: dict, args: list[str]) -> None:
    """``torchserve --start --ncs ARGS``. Its Java child inherits stdout: a file, not a pipe, or
    run() would wait on it forever."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "launcher.log", "wb") as log:
        subprocess.run([str(TORCHSERVE), "--start", "--ncs", *args], env=env, cwd=workdir, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=120)


def wait_ready(management: str, models: list[str], timeout: float = 240) -> list[str]:
    """Wait until every model has a READY worker; returns the models still not ready."""
    pending, deadline = set(models), time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for model in list(pending):
            try:
                workers = requests.get(f"{management}/models/{model}", timeout=5).json()[0]["workers"]
                if any(w.get("status") == "READY" for w in workers):
                    pending.discard(model)
            except (requests.RequestException, ValueError, KeyError, IndexError):
                pass
        time.sleep(1)
    return sorted(pending)


def start(workdir: Path, model_store: Path, models: list[str], timeout: float = 240, guard: dict[str, int] | None = None) -> Server:
    """TorchServe with the repository's config on free loopback ports, and the page's server."""
    workdir.mkdir(parents=True, exist_ok=True)
    config, ports = write_config(workdir, model_store, models, guard=guard)
    env = torchserve_env(workdir)
    launch(workdir, env, ["--ts-config", str(config)])
    server = Server(f"http://127.0.0.1:{ports['inference']}", f"http://127.0.0.1:{ports['management']}", f"http://127.0.0.1:{ports['metrics']}", workdir, env)
    pending = wait_ready(server.management, models, timeout)
    if pending:
        logs = server.logs()
        server.stop()
        raise RuntimeError(f"TorchServe models not ready after {timeout}s: {pending}\n{logs}")
    start_page(server, ports["page"], model_store)
    return server


@contextlib.contextmanager
def serving(workdir: Path, models: list[str]) -> Iterator[Server]:
    """`make archive`, then TorchServe and the page's server for ``models``; stopped on exit."""
    subprocess.run(["make", "archive"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    server = start(workdir, ROOT / "model_store", models)
    try:
        yield server
    finally:
        server.stop()


def start_page(server: Server, port: int, model_store: Path) -> None:
    log = open(server.workdir / "page.log", "wb")  # noqa: SIM115 - lives as long as the process
    server.page_process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "frontend" / "server.py"), "--port", str(port), "--api", server.inference,
            "--model-store", str(model_store), "--management", server.management, "--max-upload-bytes", ts_setting("max_request_size", server.workdir / "config.properties"),
        ],
        cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT,
    )
    server.page = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{server.page}/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("the page server did not start: " + (server.workdir / "page.log").read_text())
