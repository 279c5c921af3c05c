"""ONNX Runtime as an execution path for a network of this process, one of the candidates that a
worker times at start (dronesr/precision.py): on CPUs without fast bfloat16, ONNX Runtime's
float32 convolutions are often the quickest we have (figures: docs/performance.md, "The precision
probe").

The network is exported once (TorchScript exporter, no constant folding, so every initializer
keeps its parameter's name). The ``fidelity``/``restore`` blends load new weights into the PyTorch
module in place; the runner notices (each tensor's version counter moves) and builds a session
with those weights swapped into the graph, which takes milliseconds. A network with inputs besides
the image (the style network's style weights) names them, with a sample value each, in ``inputs``;
they keep the sample's shape.
"""

from __future__ import annotations

import io
import itertools
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

INPUT, OUTPUT = "image", "result"


class OnnxRunner:
    """``runner(batch)`` = ``model(batch)`` run by ONNX Runtime in float32 on the CPU, always with
    the weights the module holds now. RuntimeError at construction when the network cannot be
    exported or its graph does not name its weights as the module does. ``inputs``: the further
    inputs ``model(batch, *inputs)`` takes, by name, with a sample value each; ``runner(batch,
    *values)`` then feeds them in that order."""

    def __init__(self, model: nn.Module, sample: torch.Tensor, threads: int | None = None, inputs: Mapping[str, torch.Tensor] | None = None):
        import onnx  # optional at import time: a worker without it simply has one path less
        import onnxruntime

        self.model, self.onnx, self.onnxruntime = model, onnx, onnxruntime
        self.threads = threads or torch.get_num_threads()
        self.extra_inputs = tuple(inputs or {})
        extra_samples = tuple(value.detach().cpu() for value in (inputs or {}).values())
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
                torch.onnx.export(
                    model, (sample.cpu(), *extra_samples), buffer, dynamo=False, do_constant_folding=False, opset_version=17,
                    input_names=[INPUT, *self.extra_inputs], output_names=[OUTPUT], dynamic_axes={INPUT: {0: "n", 2: "h", 3: "w"}, OUTPUT: {0: "n", 2: "h", 3: "w"}},
                )
        except Exception as exc:  # noqa: BLE001 - any exporter failure means: not this path
            raise RuntimeError(f"the network does not export to ONNX ({type(exc).__name__}: {exc})") from exc
        self.graph = onnx.load_from_string(buffer.getvalue())
        names = {init.name for init in self.graph.graph.initializer}
        missing = names - set(model.state_dict())
        if missing:
            raise RuntimeError(f"the ONNX graph's weights are not the module's ({sorted(missing)[:3]} ...)")
        self.session = None
        self.version: tuple[int, ...] | None = None
        try:  # ONNX Runtime may refuse a graph the exporter wrote (SwinIR's window attention): not this path
            self(sample, *extra_samples)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types are not RuntimeError
            raise RuntimeError(f"ONNX Runtime cannot run the exported network ({type(exc).__name__}: {str(exc)[:200]})") from exc

    def _weights_version(self) -> tuple[int, ...]:
        return tuple(t._version for t in itertools.chain(self.model.parameters(), self.model.buffers()))

    def _current_session(self):
        version = self._weights_version()
        if self.session is None or version != self.version:
            state = self.model.state_dict()
            for init in self.graph.graph.initializer:
                array = state[init.name].detach().cpu().float().contiguous().numpy()
                init.CopyFrom(self.onnx.numpy_helper.from_array(array, init.name))
            options = self.onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            self.session = self.onnxruntime.InferenceSession(self.graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
            self.version = version
        return self.session

    def __call__(self, batch: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        feed = {INPUT: np.ascontiguousarray(batch.detach().cpu().float().numpy())}
        feed.update((name, np.ascontiguousarray(value.detach().cpu().float().numpy())) for name, value in zip(self.extra_inputs, values, strict=True))
        return torch.from_numpy(self._current_session().run([OUTPUT], feed)[0])


def onnx_candidate(export: Callable[[], OnnxRunner], device: torch.device, requested: str, execution: str) -> tuple[OnnxRunner | None, tuple[str, ...], str]:
    """ONNX Runtime as one more candidate of a worker's probe: exported (``export()``) only where it
    may run, on the CPU, when asked for or timed beside ``auto``'s precisions. Returns (runner or
    None, the runtimes to time, a note for the choice's reason); ValueError when it was asked for
    and cannot run here."""
    if device.type != "cpu" or not (execution == "onnxruntime" or (execution == "auto" and requested == "auto")):
        return None, (), ""
    try:
        return export(), ("onnxruntime",), ""
    except (ImportError, RuntimeError) as exc:
        if execution == "onnxruntime":
            raise ValueError(f"execution onnxruntime asked for, but {exc}") from exc
        return None, (), f"; onnxruntime not a candidate: {exc}"
