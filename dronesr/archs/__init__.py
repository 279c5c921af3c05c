"""Architectures, one module each, and a registry so checkpoints can name their architecture."""

from dronesr.archs.discriminator import Discriminator, UNetDiscriminator
from dronesr.archs.srresnet import SRResNet
from dronesr.archs.style_net import StyleNet

ARCHITECTURES = {
    "SRResNet": SRResNet,
    "Discriminator": Discriminator,
    "UNetDiscriminator": UNetDiscriminator,
    "StyleNet": StyleNet,
}

__all__ = ["ARCHITECTURES", "Discriminator", "SRResNet", "StyleNet", "UNetDiscriminator"]
