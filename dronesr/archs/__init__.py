"""Architectures, one module each, and a registry so checkpoints can name their architecture."""

from dronesr.archs.compact import Compact
from dronesr.archs.discriminator import Discriminator, UNetDiscriminator
from dronesr.archs.span import SPAN
from dronesr.archs.srresnet import SRResNet
from dronesr.archs.style_net import StyleNet

ARCHITECTURES = {
    "SRResNet": SRResNet,
    "SPAN": SPAN,
    "Compact": Compact,
    "Discriminator": Discriminator,
    "UNetDiscriminator": UNetDiscriminator,
    "StyleNet": StyleNet,
}

# Our super-resolution networks (the rest of the registry is discriminators and the style network).
SR_ARCHITECTURES = (SPAN, Compact, SRResNet)

__all__ = ["SR_ARCHITECTURES", "ARCHITECTURES", "Compact", "Discriminator", "SPAN", "SRResNet", "StyleNet", "UNetDiscriminator"]
