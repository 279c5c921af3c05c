"""The SR benchmark's results: the bar (served / reference), tables as printed, JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


from bench.sr_served import BASELINE_PREFIX
from bench.timing import PEAK_INPUT, PEAK_RUNS, Step, Timing

BN_NOTE = "folded batch norm: not applicable, the generator has no batch norm"
BAR_ROUTE = "TorchServe, PNG upload"
BAR_RATIO = {"amx": 0.15, "no amx": 0.30}  # served / reference, by whether the CPU has AMX


# --- report ------------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict
    frame: dict
    model: dict
    conv_peak_gflops: float
    in_process: list[Timing]
    reference: Timing
    steps: list[Step]
    pipeline: list[Timing] = field(default_factory=list)
    precision: str = ""
    served: dict[str, Timing] = field(default_factory=dict)
    upload_bytes: dict[str, int] = field(default_factory=dict)
    worker: dict = field(default_factory=dict)  # workers, pid, peak_mib
    bench_peak_rss_mib: float = 0.0

    def bar(self) -> dict | None:
        """Served (TorchServe, PNG upload) / in-process float32 SRResNet-16 forward, against the
        ratio for this CPU (with or without AMX)."""
        if BAR_ROUTE not in self.served:
            return None
        served = self.served[BAR_ROUTE].seconds
        kind = "amx" if "amx_bf16" in self.machine["cpu_features"] else "no amx"
        ratio = served / self.reference.seconds
        return {"served_s": served, "reference_s": self.reference.seconds, "ratio": ratio, "target": BAR_RATIO[kind], "cpu": kind, "passed": ratio <= BAR_RATIO[kind]}

    def as_dict(self) -> dict:
        return {
            "machine": self.machine,
            "frame": self.frame,
            "model": self.model,
            "conv_peak_gflops": self.conv_peak_gflops,
            "in_process": [t.as_dict() for t in self.in_process],
            "reference": self.reference.as_dict(),
            "steps": [s.as_dict() for s in self.steps],
            "pipeline": [t.as_dict() for t in self.pipeline],
            "precision": self.precision,
            "batch_norm": BN_NOTE,
            "served": {k: t.as_dict() for k, t in self.served.items()},
            "upload_bytes": self.upload_bytes,
            "worker": self.worker,
            "bar": self.bar(),
            "bench_peak_rss_mib": self.bench_peak_rss_mib,
        }


def table(header: list[str], rows: list[list[str]]) -> str:
    """Plain text columns: the first left-aligned, the figures right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join(line(row) for row in [header, *rows])


def timing_row(t: Timing, peak: float) -> list[str]:
    of_peak = 100 * t.gflops_per_s / peak
    return [t.label, f"{t.seconds:.2f}", f"{t.megapixels_per_s:.2f}", f"{t.flops / 1e9:.0f}", f"{t.gflops_per_s:.1f}", f"{of_peak:.0f}%"]


TIMING_HEADER = ["configuration", "seconds", "out MP/s", "GFLOP", "GFLOP/s", "of peak"]


def print_report(r: Results) -> None:
    m, f = r.machine, r.frame
    print(f"\n== Machine: {m['cpu']} ({m['cpu_capability']}; {m['cpu_features']}), {m['logical_cpus']} logical CPUs; torch {m['torch']}, threads {m['threads']}; GPU: {m.get('gpu') or 'none'}")
    peak_input = "x".join(map(str, PEAK_INPUT))
    print(f"  conv peak: 3x3 conv 64->64 on {peak_input}, channels_last fp32, best of {PEAK_RUNS}: {r.conv_peak_gflops:.1f} GFLOP/s")
    print(f"\n== Frame: {f['width']}x{f['height']} -> {f['out_width']}x{f['out_height']} (x{f['scale']}), {f['source']}")
    print(f"  every figure: median of {f['repeats']} run(s), wall clock; GFLOP = 2 x conv multiply-accumulates per run")
    print(f"\n== In process: {r.model['weights']} ({r.model['description']}); tiling from {r.model['tiling_from']}")
    print(table(TIMING_HEADER, [timing_row(t, r.conv_peak_gflops) for t in [*r.in_process, r.reference]]))
    print("\n== What each step bought (the same frame without the step, then with it)")
    rows = [[s.name, f"{s.without.seconds:.2f}", f"{s.with_it.seconds:.2f}", f"{s.speedup:.2f}x"] for s in r.steps]
    print(table(["step", "without (s)", "with (s)", "speed-up"], rows))
    print(f"  {BN_NOTE}")
    print(f"\n== The handler's steps in process (PNG in, PNG out); {r.precision}")
    print(table(["step", "seconds"], [[t.label, f"{t.seconds:.3f}"] for t in r.pipeline]))
    print_served(r)
    print(f"\n  bench process peak RSS: {r.bench_peak_rss_mib:.0f} MiB")


def print_served(r: Results) -> None:
    if not r.served:
        print("\n== Through TorchServe: skipped (--skip-server)\n\nBAR not evaluated: the served path was not timed (--skip-server)")
        return
    uploads = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in r.upload_bytes.items())
    print(f"\n== Through TorchServe: model {r.model['served']}, {r.worker['workers']} worker(s); uploads: {uploads}; reply PNG")
    print(table(TIMING_HEADER, [timing_row(t, r.conv_peak_gflops) for t in r.served.values()]))
    print(f"  worker peak memory (VmHWM of pid {r.worker['pid']}): {r.worker['peak_mib']:.0f} MiB")
    for label, timing in r.served.items():
        if label.startswith(BASELINE_PREFIX):
            print(f"  {label}: {timing.seconds:.2f} s, {timing.seconds / r.served[BAR_ROUTE].seconds:.2f}x the time of {r.model['served']} (same server, same frame)")
    bar = r.bar()
    verdict, relation = ("PASS", "<=") if bar["passed"] else ("FAIL", ">")
    print(
        f"\nBAR {verdict}: served ({BAR_ROUTE}) {bar['served_s']:.2f} s / in-process {r.reference.label} "
        f"{bar['reference_s']:.2f} s = {bar['ratio']:.2f} {relation} {bar['target']:.2f} (the target on a CPU with {bar['cpu']}; {r.machine['cpu_features']})"
    )


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.as_dict(), indent=2) + "\n")
    print(f"  figures written to {path}")
