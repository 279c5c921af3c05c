"""The invention map (dronesr/sr/invention.py): where srgan's result departs from what its input supports."""

from __future__ import annotations

import numpy as np
import pytest

from dronesr.checkpoint import save_model
from dronesr.image.codecs import decode_image
from dronesr.sr.invention import FULL_SCALE, colourise, departures
from dronesr.sr.resolver import BlendChoice, SuperResolver
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import encode, handler_reply, make_context, real_photo, rgb_pixels, synthetic_photo, tiny_srresnet


def upscaled(rgb: np.ndarray, scale: int = 4) -> np.ndarray:
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1)


def test_departures_see_invented_texture_and_results_that_do_not_reproduce_their_input():
    source = synthetic_photo(32, 24)
    faithful = upscaled(source)
    textured = faithful.copy()
    textured[40:60, 40:60] = np.clip(textured[40:60, 40:60].astype(int) + np.where(np.indices((20, 20)).sum(0) % 2, 30, -30)[..., None], 0, 255)
    invented, inconsistent = departures(textured, faithful, source)
    assert invented[40:60, 40:60].mean() > 20 and invented[:30].max() == 0  # only where texture was added
    assert inconsistent.mean() < 3  # the texture averages out: the result still shrinks to its input
    darker = (faithful * 0.6).astype(np.uint8)
    assert departures(darker, darker, source)[1].mean() > 20  # consistent with nothing it was given


def test_colours_run_from_black_to_yellow():
    ramp = colourise(np.array([[0.0, FULL_SCALE / 2, FULL_SCALE, 10 * FULL_SCALE]]))
    assert tuple(ramp[0, 0]) == (0, 0, 4) and tuple(ramp[0, 2]) == tuple(ramp[0, 3]) == (252, 255, 164)
    assert ramp[0, 1].sum() > ramp[0, 0].sum()


@pytest.fixture
def gan_handler(tmp_path):
    save_model(tiny_srresnet(seed=1), tmp_path / "model.pt")
    save_model(tiny_srresnet(seed=2), tmp_path / "psnr.pt")
    ctx = make_context(tmp_path, {"fidelity_weights": "psnr.pt", "precision": "float32", "execution": "pytorch"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx


def test_output_map_answers_a_colour_map_of_the_results_size(gan_handler):
    handler, ctx = gan_handler
    photo = encode(synthetic_photo(40, 30))
    status, body = handler_reply(handler, ctx, {"body": photo, "output": "map", "region": "5,5,20,16"})
    assert status == 200 and rgb_pixels(body).shape == (64, 80, 3)
    assert "output=map" in ctx.get_response_headers(0)["X-Provenance"]
    status, body = handler_reply(handler, ctx, {"body": photo, "output": "picture"})
    assert status == 400 and b"output must be one of image, map" in body


def test_output_map_is_only_for_models_with_a_faithful_end(tmp_path, tiny_weights):
    import shutil

    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path)
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    status, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 30)), "output": "map"})
    assert status == 400 and b"Unknown parameter" in body


def test_shipped_srgan_invents_less_towards_fidelity_one():
    """On a real photo, the map of the GAN itself is brighter than that of the 0.5 blend, and at
    fidelity 1 (the faithful network) only the input-consistency part remains."""
    sr = SuperResolver.open("srgan", precision="float32", execution="pytorch")
    image = decode_image(encode(real_photo(160, 120)), 10**6)
    levels = []
    for fidelity in (0.0, 0.5, 1.0):
        result = sr.upscale(image.rgb, sr.choose(image.rgb, image.quantization, fidelity, 0.0))
        sr.apply(BlendChoice(1.0, 0.0))
        faithful = sr.upscaler.upscale(image.rgb)
        invented, inconsistent = departures(result, faithful, image.rgb)
        levels.append(invented.mean())
        assert inconsistent.mean() < 6  # every end reproduces its input
    assert levels[0] > levels[1] > levels[2] == 0


def test_cli_writes_the_map_beside_the_result(tmp_path, capsys):
    from PIL import Image

    from dronesr.cli.main import main
    from dronesr.image.provenance import read_record

    photo = tmp_path / "p.jpg"
    photo.write_bytes(encode(real_photo(80, 60), "JPEG", quality=90))
    assert main(["upscale", str(photo), "-o", str(tmp_path / "out"), "--map"]) == 0
    result, mapped = Image.open(tmp_path / "out" / "p.jpg"), Image.open(tmp_path / "out" / "p.map.png")
    assert result.size == mapped.size == (320, 240)
    assert read_record(mapped.info["XML:com.adobe.xmp"].encode())["Output"] == "map"
    with pytest.raises(SystemExit) as caught:
        main(["upscale", str(photo), "-o", str(tmp_path / "out2"), "--map", "--model", "srresnet"])
    assert caught.value.code == 2 and "needs --model srgan" in capsys.readouterr().err
