"""Fixtures: tiny networks, synthetic images, one torch thread. Helpers are in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dronesr.checkpoint import save_model
from tests.helpers import synthetic_photo, tiny_srresnet


def pytest_configure(config):
    torch.set_num_threads(2)


@pytest.fixture
def one_torch_thread():
    """Small networks run faster on one thread than on two that wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pt"
    save_model(tiny_srresnet(), path)
    return path


@pytest.fixture
def photo() -> np.ndarray:
    return synthetic_photo()
