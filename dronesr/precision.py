"""Device and numeric precision, chosen by measurement on the machine at hand.

CPUs differ: one with AMX/avx512_bf16 runs bfloat16 convolutions ~2.8x faster than float32,
one without runs them several times slower. So ``auto`` never assumes: it times the real work
(a tile for serving, a training step for training) in float32 and in each low precision the
device offers, refuses a low precision whose output drifts from float32 (serving: below
``min_psnr_db``), and keeps the fastest. Low precision means autocast: weights stay float32.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# Who runs the network: PyTorch (at the chosen precision) or ONNX Runtime (float32, CPU only:
# dronesr/onnx_runtime.py); ``auto`` times both at worker start with the precisions.
EXECUTIONS = ("auto", "pytorch", "onnxruntime")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Low precisions worth timing per device type (float16 convolutions on a CPU are not accelerated).
CANDIDATES = {"cpu": ("bfloat16",), "cuda": ("float16", "bfloat16")}
MIN_PSNR_DB = 50.0  # low-precision output vs float32: 50 dB is well under one grey level on average


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def resolve_device(name: str = "auto", gpu_id: int | None = None) -> torch.device:
    """``auto``: the GPU TorchServe assigned (``gpu_id``) or the first one, when CUDA is present."""
    check_choice("device", name, DEVICES)
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but CUDA is not available on this machine")
    return torch.device("cuda", int(gpu_id or 0))


def cpu_features() -> str:
    """The CPU flags that decide the fastest precision, as the figures in the README name them."""
    try:
        flags = set()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        return "unknown"
    wanted = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")
    return ",".join(f for f in wanted if f in flags) or "none of amx/avx512/avx2"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or ``unknown``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def hardware() -> str:
    """What a measured figure ran on: the CPU's model and the features that matter, and the GPU
    when CUDA has one (every figure in the README names it)."""
    text = f"CPU {cpu_model()} ({cpu_features()})"
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name(0)}"
    return text


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to ``precision`` on ``device``; float32 runs as is."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


PROBE_LOCK = Path(tempfile.gettempdir()) / "dronesr-precision-probe.lock"


@contextlib.contextmanager
def measuring_alone() -> Iterator[None]:
    """One precision probe at a time on this machine: TorchServe starts every worker at once, and
    probes timed side by side on two cores measured each other and picked the wrong path
    (docs/performance.md, "The precision probe"). A file lock (released by the OS if a worker dies) queues
    them; where there is no fcntl the probe runs unqueued."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with open(PROBE_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def time_interleaved(calls: dict[str, Callable[[], object]], device: torch.device, rounds: int = 3) -> dict[str, float]:
    """Fastest seconds of each call over ``rounds`` rounds that run every call once in turn (each
    has run before: no warm-up here). Interleaved and the minimum: when other processes load the
    CPU (TorchServe starts every worker at once, and each times its model), each candidate meets
    the same load and a burst costs a round, not the choice (timed one after another, medians
    picked the slower path on a loaded start: docs/performance.md, "The precision probe")."""
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            _synchronise(device)
            started = time.perf_counter()
            fn()
            _synchronise(device)
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.float().clamp(0, 1) - b.float().clamp(0, 1)) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()


@dataclass
class PrecisionChoice:
    precision: str
    device: str
    seconds: dict[str, float] = field(default_factory=dict)  # per precision timed
    psnr_db: dict[str, float] = field(default_factory=dict)  # low precision vs float32 (serving)
    reason: str = ""
    execution: str = "pytorch"  # or a runtime ``run`` knows (onnxruntime), which runs float32

    @property
    def path(self) -> str:
        """The chosen candidate as ``seconds`` names it: a PyTorch precision or a runtime."""
        return self.precision if self.execution == "pytorch" else self.execution

    def summary(self) -> str:
        timed = ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in self.seconds.items())
        drift = ", ".join(f"{p} {d:.1f} dB" for p, d in self.psnr_db.items())
        return f"{self.execution} {self.precision} on {self.device} ({self.reason}; timed: {timed or '-'}; vs PyTorch float32: {drift or '-'})"

    def as_dict(self) -> dict:
        return {
            "precision": self.precision, "execution": self.execution, "device": self.device, "seconds": self.seconds,
            "psnr_db_vs_float32": self.psnr_db, "reason": self.reason,
        }


def choose_precision(
    run: Callable[[str], torch.Tensor],
    device: torch.device,
    requested: str = "auto",
    min_psnr_db: float | None = MIN_PSNR_DB,
    repeats: int = 3,
    runtimes: tuple[str, ...] = (),
    supported: tuple[str, ...] | None = None,
) -> PrecisionChoice:
    """Pick the precision to run ``run(precision) -> output`` in.

    An explicit ``requested`` precision is kept as is (nothing is timed). ``auto`` times float32
    and every low-precision candidate of the device, and each of ``runtimes`` (other execution
    paths ``run`` knows by name, e.g. ``onnxruntime``); a candidate whose output is below
    ``min_psnr_db`` against PyTorch's float32 is refused (``None``: outputs are not compared, e.g.
    training steps); ``supported`` (None: all) leaves out the precisions the network does not run
    in (spandrel's descriptor says so for foreign networks). The fastest survivor wins."""
    check_choice("precision", requested, PRECISIONS)
    where = f"{device.type}" + (f" ({cpu_features()})" if device.type == "cpu" else f" ({torch.cuda.get_device_name(device)})")
    if requested != "auto":
        if supported is not None and requested != "float32" and requested not in supported:
            raise ValueError(f"precision {requested} asked for, but the network runs only in {', '.join(supported)}")
        return PrecisionChoice(requested, where, reason="set in the configuration")
    with measuring_alone():
        return _measure(run, device, where, min_psnr_db, repeats, runtimes, supported)


def _measure(
    run: Callable[[str], torch.Tensor], device: torch.device, where: str, min_psnr_db: float | None, repeats: int,
    runtimes: tuple[str, ...], supported: tuple[str, ...] | None,
) -> PrecisionChoice:
    """choose_precision's measurement: accuracy against float32, then the interleaved timings."""
    reference = run("float32")
    timed = ["float32"]
    drift: dict[str, float] = {}
    for candidate in tuple(c for c in CANDIDATES[device.type] if supported is None or c in supported) + tuple(runtimes):
        try:
            output = run(candidate)  # also its warm-up
        except RuntimeError:  # an op without a kernel in this dtype on this device
            drift[candidate] = float("nan")
            continue
        if min_psnr_db is not None:
            drift[candidate] = _psnr(output, reference)
            if drift[candidate] < min_psnr_db:
                continue
        timed.append(candidate)
    seconds = time_interleaved({c: (lambda c=c: run(c)) for c in timed}, device, max(repeats, 3))
    best = min(seconds, key=seconds.get)
    reason = "fastest measured" if best != "float32" else "float32 was fastest or the only precision accurate enough"
    if best in runtimes:
        return PrecisionChoice("float32", where, seconds, drift, reason, execution=best)
    return PrecisionChoice(best, where, seconds, drift, reason)
