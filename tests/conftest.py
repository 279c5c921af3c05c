"""Fixtures: tiny networks, synthetic images, one torch thread. Helpers are in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dronesr.checkpoint import save_model
from harness import torchserve
from tests.helpers import SHIPPED_MODELS, synthetic_photo, tiny_srresnet



def pytest_configure(config):
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def shipped_server(tmp_path_factory):
    """One real TorchServe (and the page's server) with the shipped archives, for the end-to-end
    modules that only send it requests: a start costs tens of seconds. Modules that break workers
    (test_faults) or serve other archives (test_served_foreign_weights, test_kserve_bundle) start their own."""
    with torchserve.serving(tmp_path_factory.mktemp("torchserve-shipped"), SHIPPED_MODELS) as server:
        yield server


@pytest.fixture(scope="module")
def server(shipped_server):
    """The server an end-to-end module talks to: the shared one, unless the module starts its own."""
    return shipped_server


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
