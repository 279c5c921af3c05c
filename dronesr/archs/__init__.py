"""Architectures, one module each, and a registry so checkpoints can name their architecture."""

from dronesr.archs.discriminator import Discriminator
from dronesr.archs.srresnet import SRResNet

ARCHITECTURES = {
    "SRResNet": SRResNet,
    "Discriminator": Discriminator,
}

__all__ = ["ARCHITECTURES", "Discriminator", "SRResNet"]
