"""On-the-fly LR synthesis for degradation-aware SR training, in the spirit of Real-ESRGAN's
second-order model (Wang et al. 2021, "Training Real-World Blind Super-Resolution with Pure
Synthetic Data"): blur -> random resize -> noise -> JPEG, applied twice, then a final resize to the
LR size with an optional sinc filter and JPEG in random order. A share of samples stays clean
(antialiased bicubic downscale only), so the model keeps its quality on clean inputs.

Every probability and range is a field of :class:`DegradationConfig`, read from a YAML file
(``training/configs/degradations.yaml``); nothing here hides a constant. The ranges are milder than
Real-ESRGAN's (which targets old, heavily damaged photos): drone frames and web photos are mostly
mildly soft, noisy and JPEG-compressed, and a PSNR model that expects heavy damage over-smooths the
rest. Everything is drawn from one ``numpy.random.Generator``, so a seed fixes every sample.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dronesr.image.codecs import jpeg_round_trip, rgb_to_tensor, tensor_to_rgb
from dronesr.metrics import quantize
from dronesr.image.resample import downscale
from training.options import read_yaml

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")
CODEC_GRID = 16  # H.264's and WebP's macroblock, two of JPEG's 8 px blocks (a 4:2:0 JPEG's MCU)


@dataclass
class StageConfig:
    """One order of the degradation: blur -> resize -> noise -> JPEG (defaults: the first order)."""

    blur_prob: float = 0.5
    kernel_sizes: tuple[int, int] = (7, 21)  # odd sides, drawn uniformly
    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # over KERNEL_TYPES
    sinc_prob: float = 0.1  # instead of the kernels above
    blur_sigma: tuple[float, float] = (0.2, 1.5)  # pixels, per axis
    betag_range: tuple[float, float] = (0.5, 4.0)  # generalized Gaussian shape
    betap_range: tuple[float, float] = (1.0, 2.0)  # plateau shape
    resize_probs: tuple[float, float, float] = (0.1, 0.3, 0.6)  # up, down, keep
    resize_range: tuple[float, float] = (0.6, 1.3)  # factor (up draws above 1, down below)
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_prob: float = 0.3
    noise_sigma: tuple[float, float] = (1.0, 10.0)  # 0-255 scale
    poisson_scale: tuple[float, float] = (0.05, 1.0)
    gray_noise_prob: float = 0.4
    jpeg_prob: float = 0.2
    jpeg_quality: tuple[int, int] = (40, 95)


def _second_stage_defaults() -> StageConfig:
    return StageConfig(blur_prob=0.4, blur_sigma=(0.2, 1.2), resize_probs=(0.2, 0.3, 0.5), resize_range=(0.8, 1.2), noise_prob=0.6, jpeg_prob=0.3)


@dataclass
class DegradationConfig:
    """The whole pipeline; ``training/configs/degradations.yaml`` names every field."""

    scale: int = 4
    clean_prob: float = 0.25  # antialiased bicubic only, as the clean evaluation protocol
    # The commonest real upload, a resized web photo or frame saved as JPEG: the clean LR, then
    # one JPEG round trip. Drawn after clean_prob, from the samples it leaves.
    web_jpeg_prob: float = 0.0
    web_jpeg_quality: tuple[int, int] = (40, 95)
    second_order_prob: float = 0.8
    final_sinc_prob: float = 0.3
    final_jpeg_prob: float = 0.7
    final_jpeg_quality: tuple[int, int] = (40, 95)
    # Blocks as frames from drone videos carry them: the degraded LR through H.264 (16 px
    # macroblocks, 4/8 px transforms) at a high CRF, with or without x264's deblocking (its
    # ultrafast preset has none), the grid at a random phase of the crop; then, as grabbed frames
    # are saved, a JPEG at grab_jpeg_quality half of the time.
    codec_prob: float = 0.0
    codec_crf: tuple[int, int] = (30, 40)
    grab_jpeg_quality: tuple[int, int] = (85, 95)
    # A re-shared photo, drawn like web_jpeg from the samples clean_prob leaves: the HR shrunk to
    # reshare_size times the LR size, saved as JPEG, resized to the LR size, saved as WebP.
    reshare_prob: float = 0.0
    reshare_size: tuple[float, float] = (1.0, 2.0)
    reshare_jpeg_quality: tuple[int, int] = (40, 90)
    reshare_webp_quality: tuple[int, int] = (50, 90)
    first: StageConfig = field(default_factory=StageConfig)
    second: StageConfig = field(default_factory=_second_stage_defaults)

    @classmethod
    def from_dict(cls, data: dict) -> DegradationConfig:
        stage_names = {f.name for f in fields(StageConfig)}
        top_names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - top_names)
        if unknown:
            raise ValueError(f"unknown degradation option(s) {unknown}; known: {sorted(top_names)}")
        values = {}
        for key, value in data.items():
            if key in ("first", "second"):
                bad = sorted(set(value or {}) - stage_names)
                if bad:
                    raise ValueError(f"unknown option(s) {bad} in degradation stage {key!r}; known: {sorted(stage_names)}")
                base = StageConfig() if key == "first" else _second_stage_defaults()
                values[key] = StageConfig(**{**base.__dict__, **{k: _tuple(v) for k, v in (value or {}).items()}})
            else:
                values[key] = _tuple(value)
        config = cls(**values)
        config.check()
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> DegradationConfig:
        """A YAML of these fields; ``base: FILE`` (beside it) names a YAML whose values it changes."""
        return cls.from_dict(read_yaml(path, ("first", "second")))

    def check(self) -> None:
        for name in ("clean_prob", "web_jpeg_prob", "second_order_prob", "final_sinc_prob", "final_jpeg_prob", "codec_prob", "reshare_prob"):
            _check_prob(name, getattr(self, name))
        for label, stage in (("first", self.first), ("second", self.second)):
            if len(stage.kernel_probs) != len(KERNEL_TYPES):
                raise ValueError(f"{label}.kernel_probs needs {len(KERNEL_TYPES)} entries ({', '.join(KERNEL_TYPES)})")
            if len(stage.resize_probs) != 3:
                raise ValueError(f"{label}.resize_probs needs 3 entries (up, down, keep)")
            lo, hi = stage.kernel_sizes
            if lo % 2 == 0 or hi % 2 == 0 or lo > hi or lo < 3:
                raise ValueError(f"{label}.kernel_sizes must be odd, >= 3 and ordered, got {stage.kernel_sizes}")
            for name in ("blur_prob", "sinc_prob", "gaussian_noise_prob", "noise_prob", "gray_noise_prob", "jpeg_prob"):
                _check_prob(f"{label}.{name}", getattr(stage, name))


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _check_prob(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


# --- kernels ------------------------------------------------------------------------------------
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r, indexing="xy")


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """x^T Sigma^-1 x over the kernel grid, Sigma = R diag(sx^2, sy^2) R^T."""
    x, y = _grid(size)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def blur_kernel(kind: str, size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """A normalised ``size`` x ``size`` blur kernel of one of KERNEL_TYPES."""
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma_y, theta = sigma_x, 0.0
    q = _quadratic_form(size, sigma_x, sigma_y, theta)
    if kind in ("iso", "aniso"):
        k = np.exp(-0.5 * q)
    elif kind.startswith("generalized"):
        k = np.exp(-0.5 * q**beta)
    elif kind.startswith("plateau"):
        k = 1.0 / (1.0 + q**beta)
    else:
        raise ValueError(f"unknown kernel type {kind!r}; known: {KERNEL_TYPES}")
    return k / k.sum()


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """Circular low-pass (2-D sinc, J1 Bessel) with cutoff in radians per pixel: ringing and
    overshoot, as sharpened or resampled video frames show."""
    x, y = _grid(size)
    r = torch.from_numpy(np.sqrt(x**2 + y**2).astype(np.float64))
    safe = torch.where(r == 0, torch.ones_like(r), r)
    k = cutoff * torch.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe)
    k = torch.where(r == 0, torch.full_like(r, cutoff**2 / (4 * math.pi)), k).numpy()
    return k / k.sum()


def _odd_size(rng: np.random.Generator, sizes: tuple[int, int]) -> int:
    return int(rng.choice(np.arange(sizes[0], sizes[1] + 1, 2)))


def random_kernel(stage: StageConfig, rng: np.random.Generator) -> np.ndarray:
    size = _odd_size(rng, stage.kernel_sizes)
    if rng.random() < stage.sinc_prob:
        # Cutoffs as Real-ESRGAN: wider for small kernels, which would truncate a low cutoff.
        cutoff = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi)
        return sinc_kernel(size, cutoff)
    probs = np.asarray(stage.kernel_probs, dtype=float)
    kind = KERNEL_TYPES[int(rng.choice(len(KERNEL_TYPES), p=probs / probs.sum()))]
    sigma_x, sigma_y = rng.uniform(*stage.blur_sigma), rng.uniform(*stage.blur_sigma)
    beta = rng.uniform(*(stage.betag_range if kind.startswith("generalized") else stage.betap_range))
    return blur_kernel(kind, size, sigma_x, sigma_y, rng.uniform(-math.pi, math.pi), beta)


def apply_kernel(image: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Filter a 1xCxHxW image with a 2-D kernel, reflect-padded (same size out)."""
    pad = kernel.shape[0] // 2
    channels = image.shape[1]
    if min(image.shape[-2:]) <= pad:
        return image
    weight = torch.from_numpy(kernel.astype(np.float32)).expand(channels, 1, *kernel.shape)
    return F.conv2d(F.pad(image, (pad, pad, pad, pad), mode="reflect"), weight, groups=channels)


# --- the other steps ----------------------------------------------------------------------------
def resize(image: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    size = (max(1, size[0]), max(1, size[1]))
    if mode == "area":
        return F.interpolate(image, size=size, mode="area")
    shrinking = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode=mode, align_corners=False, antialias=shrinking)


def add_noise(image: torch.Tensor, stage: StageConfig, rng: np.random.Generator) -> torch.Tensor:
    """Gaussian (sigma on the 0-255 scale) or Poisson (shot noise of 8-bit photon counts,
    scaled), in colour or the same for every channel (grey)."""
    gray = rng.random() < stage.gray_noise_prob
    shape = (1, 1, *image.shape[-2:]) if gray else tuple(image.shape)
    if rng.random() < stage.gaussian_noise_prob:
        noise = rng.normal(0.0, rng.uniform(*stage.noise_sigma) / 255.0, size=shape)
    else:
        base = image.clamp(0, 1).numpy()
        if gray:
            base = base.mean(axis=1, keepdims=True)
        counts = base * 255.0
        noise = (rng.poisson(counts) - counts) / 255.0 * rng.uniform(*stage.poisson_scale)
    return image + torch.from_numpy(noise.astype(np.float32))


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG round trip at ``quality`` (Pillow, 4:2:0 as its default): also quantizes to 8 bits."""
    return rgb_to_tensor(jpeg_round_trip(tensor_to_rgb(image), quality))


def webp(image: torch.Tensor, quality: int) -> torch.Tensor:
    """WebP round trip at ``quality`` (Pillow's lossy WebP: 4:2:0, 16 px macroblocks)."""
    return rgb_to_tensor(jpeg_round_trip(tensor_to_rgb(image), quality, fmt="webp"))


def h264(image: torch.Tensor, crf: int, deblock: bool) -> torch.Tensor:
    """One frame through libx264 (PyAV) at ``crf`` and back; even sides (pad first)."""
    import av

    rgb = tensor_to_rgb(image)
    height, width = rgb.shape[:2]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast" if deblock else "ultrafast"}
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        frame = next(container.decode(video=0))
        return rgb_to_tensor(frame.to_ndarray(format="rgb24"))


def h264_frame(rgb: np.ndarray, crf: int, deblock: bool) -> np.ndarray:
    """H x W x 3 uint8 as one frame through libx264 (:func:`h264`), its grid at the frame's
    corner: padded (replicated edges) to the 16 px macroblock grid, coded, cut back."""
    height, width = rgb.shape[:2]
    padded = np.pad(rgb, ((0, -height % CODEC_GRID), (0, -width % CODEC_GRID), (0, 0)), mode="edge")
    return tensor_to_rgb(h264(rgb_to_tensor(padded), crf, deblock))[:height, :width]


def at_random_phase(image: torch.Tensor, code, rng: np.random.Generator, grid: int = CODEC_GRID) -> torch.Tensor:
    """``code(image)`` with the codec's block grid at a random offset from the image's corner, as
    in a crop of a larger frame: the image is padded (replicated edges) by the offset at the top
    and left and up to the grid at the bottom and right, coded, and cut back."""
    height, width = image.shape[-2:]
    top, left = int(rng.integers(grid)), int(rng.integers(grid))
    bottom, right = (-(top + height)) % grid, (-(left + width)) % grid
    padded = F.pad(image, (left, right, top, bottom), mode="replicate")
    return code(padded)[..., top : top + height, left : left + width]


def video_frame(image: torch.Tensor, config: DegradationConfig, rng: np.random.Generator) -> torch.Tensor:
    """The LR as a frame of a drone video: H.264 blocks at a random phase, and half of the time
    the grabbed frame saved as a high-quality JPEG (its own 8 px grid at another phase)."""
    crf, deblock = int(rng.integers(config.codec_crf[0], config.codec_crf[1] + 1)), bool(rng.random() < 0.5)
    image = at_random_phase(image, lambda x: h264(x, crf, deblock), rng)
    if rng.random() < 0.5:
        quality = int(rng.integers(config.grab_jpeg_quality[0], config.grab_jpeg_quality[1] + 1))
        image = at_random_phase(image, lambda x: jpeg(x, quality), rng)
    return image


def reshared(hr: torch.Tensor, config: DegradationConfig, rng: np.random.Generator) -> torch.Tensor:
    """A re-shared photo's LR: shrunk to a size between reshare_size x the LR, JPEG, resized to
    the LR size, WebP; each codec's grid at a random phase."""
    scale = config.scale
    lr_size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    factor = rng.uniform(*config.reshare_size)
    image = resize(hr, (round(lr_size[0] * factor), round(lr_size[1] * factor)), "bicubic").clamp(0, 1)
    jpeg_quality = int(rng.integers(config.reshare_jpeg_quality[0], config.reshare_jpeg_quality[1] + 1))
    image = at_random_phase(image, lambda x: jpeg(x, jpeg_quality), rng)
    image = resize(image, lr_size, RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))]).clamp(0, 1)
    webp_quality = int(rng.integers(config.reshare_webp_quality[0], config.reshare_webp_quality[1] + 1))
    return at_random_phase(image, lambda x: webp(x, webp_quality), rng)


def _stage(image: torch.Tensor, stage: StageConfig, target: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    """One order; ``target`` is the size the random resize is relative to."""
    if rng.random() < stage.blur_prob:
        image = apply_kernel(image, random_kernel(stage, rng))
    direction = int(rng.choice(3, p=np.asarray(stage.resize_probs) / sum(stage.resize_probs)))
    lo, hi = stage.resize_range
    factor = rng.uniform(1.0, max(1.0, hi)) if direction == 0 else rng.uniform(min(lo, 1.0), 1.0) if direction == 1 else 1.0
    size = (round(target[0] * factor), round(target[1] * factor))
    image = resize(image, size, RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))])
    if rng.random() < stage.noise_prob:
        image = add_noise(image, stage, rng)
    if rng.random() < stage.jpeg_prob:
        image = jpeg(image, int(rng.integers(stage.jpeg_quality[0], stage.jpeg_quality[1] + 1)))
    return image.clamp(0, 1)


def degrade_one(hr: torch.Tensor, config: DegradationConfig, rng: np.random.Generator) -> torch.Tensor:
    """1x3xHxW float HR in [0,1] (H, W multiples of the scale) -> 1x3x(H/s)x(W/s) LR, 8-bit values."""
    scale = config.scale
    h, w = hr.shape[-2:]
    lr_size = (h // scale, w // scale)
    if rng.random() < config.clean_prob:
        return quantize(downscale(hr, scale))
    if config.web_jpeg_prob > 0 and rng.random() < config.web_jpeg_prob:  # no draw at 0: same samples as before it existed
        quality = int(rng.integers(config.web_jpeg_quality[0], config.web_jpeg_quality[1] + 1))
        return jpeg(downscale(hr, scale), quality)  # 8-bit already
    if config.reshare_prob > 0 and rng.random() < config.reshare_prob:
        return reshared(hr, config, rng)
    image = _stage(hr, config.first, (h, w), rng)
    if rng.random() < config.second_order_prob:
        image = _stage(image, config.second, lr_size, rng)

    def final_resize(x: torch.Tensor) -> torch.Tensor:
        x = resize(x, lr_size, RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))])
        if rng.random() < config.final_sinc_prob:
            size = _odd_size(rng, config.second.kernel_sizes)
            x = apply_kernel(x, sinc_kernel(size, rng.uniform(math.pi / 3, math.pi)))
        return x.clamp(0, 1)

    def final_jpeg(x: torch.Tensor) -> torch.Tensor:
        if rng.random() < config.final_jpeg_prob:
            x = jpeg(x, int(rng.integers(config.final_jpeg_quality[0], config.final_jpeg_quality[1] + 1)))
        return x

    # Real-ESRGAN's two orders of the last step: resize+sinc then JPEG, or JPEG then resize+sinc.
    image = final_jpeg(final_resize(image)) if rng.random() < 0.5 else final_resize(final_jpeg(image))
    if config.codec_prob > 0 and rng.random() < config.codec_prob:
        image = video_frame(quantize(image), config, rng)
    return quantize(image)


def degrade_batch(hr: torch.Tensor, config: DegradationConfig, rng: np.random.Generator) -> torch.Tensor:
    """NCHW HR batch -> NCHW LR batch, each sample degraded independently."""
    return torch.cat([degrade_one(image, config, rng) for image in hr.split(1)])
