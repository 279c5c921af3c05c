"""``dronesr upscale --server`` against a real TorchServe (the shared one, shipped archives): a photo
sent in several windows matches the in-process result within rounding, carries the server's
provenance record, and a server that is gone or refuses stops the run with a message, exit status
1 and no output file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dronesr.cli import remote
from dronesr.cli.main import main
from dronesr.image.provenance import read_record
from harness.torchserve import free_port
from tests.helpers import encode, real_photo


def upscale(*args) -> int:
    return main(["upscale", *(str(a) for a in args)])


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "flight.jpg"
    path.write_bytes(encode(real_photo(1000, 700), "JPEG", quality=90))
    return path


def test_server_result_matches_in_process_in_several_windows(server, photo, tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "WINDOW_SIDE", 600)  # windows of 3 tiles (528 px): 4 of them for this photo
    sent = []
    predict = remote.Endpoint.predict

    def counted(self, rgb, params, retries=None):
        sent.append(rgb.shape)
        return predict(self, rgb, params, retries)

    monkeypatch.setattr(remote.Endpoint, "predict", counted)
    common = ["--outscale", 2, "--format", "png"]
    assert upscale(photo, "-o", tmp_path / "served", "--server", f"{server.inference}/predictions/srresnet", "--jobs", 2, *common) == 0
    assert len(sent) == 1 + 4  # the probe, then the windows
    assert upscale(photo, "-o", tmp_path / "local", "--model", "srresnet", *common) == 0
    served, local = (Image.open(tmp_path / name / "flight.png") for name in ("served", "local"))
    assert served.size == local.size == (2000, 1400)
    difference = np.abs(np.asarray(served, float) - np.asarray(local, float))
    assert difference.mean() <= 0.5 and np.percentile(difference, 99.9) <= 3, (difference.mean(), np.percentile(difference, 99.9))
    record = read_record(served.info["XML:com.adobe.xmp"].encode())
    assert record["Model"] == "srresnet" and record["Outscale"] == "2" and record["Server"].endswith("/predictions/srresnet")
    assert "Restore" in record  # decided here from the whole photo, sent as a number


def test_a_server_that_is_gone_or_refuses_stops_with_a_message(server, photo, tmp_path, capsys):
    assert upscale(photo, "-o", tmp_path / "gone", "--server", f"http://127.0.0.1:{free_port()}/predictions/srresnet") == 1
    assert "did not answer" in capsys.readouterr().err and not (tmp_path / "gone").exists()
    assert upscale(photo, "-o", tmp_path / "refused", "--server", f"{server.inference}/predictions/no-such-model") == 1
    err = capsys.readouterr().err
    assert "refused" in err and "404" in err and not (tmp_path / "refused").exists()
