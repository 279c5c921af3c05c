"""Style-transfer losses, shared by the feed-forward trainer (train_style.py) and the classic
optimisation (gatys.py): one configuration block, one criterion, every weight named.

    total = content_weight * content + style_weight * style + colour_weight * colour + tv_weight * tv

- content: feature distance on the loss network's content layer(s) (Johnson et al. 2016);
- style: Gram-matrix distance on its style layers (Gatys et al. 2016);
- colour: the RGB palette, as the mean and the 3x3 covariance of the pixels. The MobileNet loss
  network gives real brush strokes but lets colours drift (GUIDE.md section 6); this term pins the
  painting's palette without constraining where the colours go;
- tv: total variation (mean absolute difference of neighbouring pixels) against speckle.

Every distance is *relative*: a layer's squared error divided by the target's mean square, so a
term is about 1 when the output is as far from the target as zero is, whichever network or layer
(ReLU6 MobileNet activations and VGG activations differ by orders of magnitude), and the weights
mean the same with either network. Every image is reflect-padded (``reflect_pad`` pixels) before
the loss network: its zero padding otherwise makes the border special and the trained network
paints a bright frame there (GUIDE.md section 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from training.losses import gram_matrix
from training.options import ConfigError, LossNetworkOptions, option

# Layers when the config says "auto". MobileNet: the widest activation at strides 2..16 for style
# (texture at every scale up to brush strokes), stride 8 for content (structure at a scale that
# keeps small subjects like a distant drone recognisable; stride 16 lets strokes rewrite them).
# VGG19: Gatys et al.'s style layers and a mid-level content layer.
STYLE_LAYERS = {
    "mobilenet": ("stride2", "stride4", "stride8", "stride16"),
    "vgg19": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
}
CONTENT_LAYERS = {"mobilenet": ("stride8",), "vgg19": ("relu3_1",)}


@dataclass
class StyleLossConfig(LossNetworkOptions):
    """The loss options both style commands share (fields of their configs and CLI flags)."""
    style_layers: str = option(
        "auto",
        "comma-separated loss-network layers for the Gram (style) loss; auto: "
        + "; ".join(f"{k}: {','.join(v)}" for k, v in STYLE_LAYERS.items()),
    )
    content_layers: str = option(
        "auto", "comma-separated layers for the content loss; auto: " + "; ".join(f"{k}: {','.join(v)}" for k, v in CONTENT_LAYERS.items())
    )
    content_weight: float = option(1.0, "weight of the content (feature) loss")
    style_weight: float = option(5.0, "weight of the style (Gram) loss")
    colour_weight: float = option(1.0, "weight of the RGB colour loss (pixel mean and covariance vs the painting)")
    tv_weight: float = option(0.5, "weight of the total-variation loss")
    style_size: int = option(384, "long side (px) the painting is resized to for its Gram targets")
    reflect_pad: int = option(16, "reflect padding (px) around every image fed to the loss network")

    @property
    def network_name(self) -> str:
        if self.loss_network == "auto":
            return "vgg19" if self.vgg19_weights is not None else "mobilenet"
        return self.loss_network

    def layers(self, which: str) -> tuple[str, ...]:
        """Resolved ``style`` or ``content`` layer names."""
        text = self.style_layers if which == "style" else self.content_layers
        if text.strip() == "auto":
            table = STYLE_LAYERS if which == "style" else CONTENT_LAYERS
            if self.network_name not in table:
                raise ConfigError(f"unknown loss network {self.loss_network!r}; use 'vgg19', 'mobilenet' or 'auto'")
            return table[self.network_name]
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        if not names:
            raise ConfigError(f"--{which}-layers is empty")
        return names


# --- the terms --------------------------------------------------------------------------------


def relative_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the mean square of the target (per sample, then averaged)."""
    dims = tuple(range(1, pred.dim()))
    return ((pred - target).square().mean(dims) / (target.square().mean(dims) + 1e-8)).mean()


def rgb_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NCHW RGB -> (mean ``[N, 3]``, covariance ``[N, 3, 3]``) of the pixels."""
    flat = images.flatten(2)
    mean = flat.mean(2)
    centred = flat - mean.unsqueeze(2)
    return mean, centred @ centred.transpose(1, 2) / flat.shape[2]


def colour_loss(images: torch.Tensor, target_mean: torch.Tensor, target_cov: torch.Tensor) -> torch.Tensor:
    """Relative distance of the RGB mean and covariance to the painting's (``[N, 3]``, ``[N, 3, 3]``)."""
    mean, cov = rgb_stats(images)
    return relative_mse(mean, target_mean) + relative_mse(cov, target_cov)


def tv_loss(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean |difference| of horizontal and vertical neighbours."""
    return (images[..., 1:, :] - images[..., :-1, :]).abs().mean() + (images[..., :, 1:] - images[..., :, :-1]).abs().mean()


def reflect_pad(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect padding, limited to what the image can mirror (side - 1)."""
    pad = min(pad, images.shape[-1] - 1, images.shape[-2] - 1)
    return F.pad(images, (pad, pad, pad, pad), mode="reflect") if pad > 0 else images


def resize_long_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """NCHW float, long side to ``side`` (antialiased bilinear); aspect kept."""
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


# --- the criterion ----------------------------------------------------------------------------


class StyleCriterion(nn.Module):
    """The weighted style-transfer loss against a fixed list of paintings.

    Built once: the loss network (cut after its deepest layer) and each painting's Gram targets
    and RGB statistics, computed at ``style_size``. Called with the output batch, the content batch
    it came from and each sample's painting index; returns the weighted terms (``total`` included).
    """

    def __init__(self, cfg: StyleLossConfig, paintings: Sequence[torch.Tensor]):
        super().__init__()
        from training.loss_nets import build_loss_network

        self.cfg = cfg
        style, content = cfg.layers("style"), cfg.layers("content")
        union = list(dict.fromkeys([*style, *content]))
        self.style_taps = [union.index(n) for n in style]
        self.content_taps = [union.index(n) for n in content]
        self.net, self.description = build_loss_network(cfg.loss_network, cfg.vgg19_weights, layers=union)
        grams: list[list[torch.Tensor]] = [[] for _ in style]
        means, covs = [], []
        with torch.no_grad():
            for painting in paintings:
                painting = resize_long_side(painting.unsqueeze(0) if painting.dim() == 3 else painting, cfg.style_size)
                features = self.features(painting)
                for i, tap in enumerate(self.style_taps):
                    grams[i].append(gram_matrix(features[tap])[0])
                mean, cov = rgb_stats(painting)
                means.append(mean[0])
                covs.append(cov[0])
        for i, layer_grams in enumerate(grams):  # per style layer: [S, C, C]
            self.register_buffer(f"target_gram{i}", torch.stack(layer_grams), persistent=False)
        self.register_buffer("target_mean", torch.stack(means), persistent=False)
        self.register_buffer("target_cov", torch.stack(covs), persistent=False)

    @property
    def target_grams(self) -> list[torch.Tensor]:
        return [getattr(self, f"target_gram{i}") for i in range(len(self.style_taps))]

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.net(reflect_pad(images, self.cfg.reflect_pad))

    def forward(self, output: torch.Tensor, content: torch.Tensor, style_index: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        terms: dict[str, torch.Tensor] = {}
        features = self.features(output)
        if cfg.content_weight > 0:
            with torch.no_grad():
                targets = self.features(content)
            terms["content"] = (
                cfg.content_weight * sum(relative_mse(features[t], targets[t]) for t in self.content_taps) / len(self.content_taps)
            )
        if cfg.style_weight > 0:
            terms["style"] = (
                cfg.style_weight
                * sum(relative_mse(gram_matrix(features[t]), grams[style_index]) for t, grams in zip(self.style_taps, self.target_grams))
                / len(self.style_taps)
            )
        if cfg.colour_weight > 0:
            terms["colour"] = cfg.colour_weight * colour_loss(output, self.target_mean[style_index], self.target_cov[style_index])
        if cfg.tv_weight > 0:
            terms["tv"] = cfg.tv_weight * tv_loss(output)
        terms["total"] = sum(terms.values()) if terms else output.sum() * 0
        return terms
