"""A worker killed under load: TorchServe restarts it, the requests it was holding fail fast with an
error status (none hangs until its client gives up), and once the new worker is READY every
request succeeds again.

SIGKILL stands in for what takes a worker down in production: the kernel's OOM killer, a segfault
in a native library. The counts are printed (pytest -s, or -rP) for the record."""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from harness import torchserve
from tests.helpers import encode, synthetic_photo

MODEL = "srgan"
CLIENTS = 3
LOAD_SECONDS = 15
KILL_AFTER_SECONDS = 4
CLIENT_TIMEOUT = 60  # a request still unanswered after this counts as hung
RECOVERY_SECONDS = 180


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no HTTP reply (client timeout or connection error)
    seconds: float
    detail: str = ""  # the exception's name, or a failed reply's body


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with torchserve.serving(tmp_path_factory.mktemp("torchserve-faults"), [MODEL]) as srv:
        yield srv


def workers(server) -> list[dict]:
    return requests.get(f"{server.management}/models/{MODEL}", timeout=10).json()[0]["workers"]


def client(url: str, body: bytes, deadline: float, outcomes: list[Outcome]) -> None:
    """Post the image back to back until the deadline, recording each outcome (list.append is atomic)."""
    with requests.Session() as session:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = session.post(url, data=body, timeout=CLIENT_TIMEOUT)
                status, detail = response.status_code, "" if response.ok else " ".join(response.text.split())[:160]
            except requests.RequestException as exc:
                status, detail = None, type(exc).__name__
            outcomes.append(Outcome(status, time.monotonic() - started, detail))


def run_load_and_kill(server, pid: int, body: bytes) -> list[Outcome]:
    """CLIENTS threads for LOAD_SECONDS; the worker is SIGKILLed KILL_AFTER_SECONDS in."""
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + LOAD_SECONDS
    url = f"{server.inference}/predictions/{MODEL}"
    threads = [threading.Thread(target=client, args=(url, body, deadline, outcomes), daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER_SECONDS)
    os.kill(pid, signal.SIGKILL)
    for thread in threads:
        thread.join(LOAD_SECONDS + CLIENT_TIMEOUT + 10)
    assert not any(thread.is_alive() for thread in threads), "a client thread is stuck past its timeout"
    return outcomes


def wait_for_replacement(server, old_pid: int) -> dict:
    """Poll until a READY worker with a new PID serves the model."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        ready = [w for w in workers(server) if w["status"] == "READY" and w["pid"] != old_pid]
        if ready:
            return ready[0]
        time.sleep(1)
    pytest.fail(f"no new READY worker {RECOVERY_SECONDS}s after the kill: {workers(server)}\n{server.logs()}")


def test_killed_worker_fails_fast_then_recovers(server):
    [old] = workers(server)
    body = encode(synthetic_photo(48, 32), "PNG")
    outcomes = run_load_and_kill(server, old["pid"], body)
    new = wait_for_replacement(server, old["pid"])
    after = [requests.post(f"{server.inference}/predictions/{MODEL}", data=body, timeout=CLIENT_TIMEOUT).status_code for _ in range(5)]

    counts = collections.Counter(o.status if o.status is not None else o.detail for o in outcomes)
    failures = [o for o in outcomes if o.status != 200]
    slowest_failure = max((o.seconds for o in failures), default=0.0)
    print(
        f"\nworker {old['pid']} killed -> {new['pid']}; {len(outcomes)} requests under load: {dict(counts)}; "
        f"slowest failure {slowest_failure:.1f}s; after recovery: {after}; failure replies: {sorted({o.detail for o in failures})}"
    )

    assert counts[200] > 0, counts
    assert all(o.status is not None for o in outcomes), f"requests without an HTTP reply: {counts}"
    assert all(o.status >= 500 for o in failures), counts  # a server-side fault, never a 2xx/4xx lie
    assert slowest_failure < CLIENT_TIMEOUT
    assert after == [200] * 5
