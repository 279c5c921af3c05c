"""region=x,y,w,h: a window of a frame enlarged as it is in the whole frame's result."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dronesr.errors import ClientError
from dronesr.sr.region import Region, parse_region
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import ROOT, encode, handler_reply, make_context, real_photo, rgb_pixels, synthetic_photo


def test_parse_region_accepts_windows_inside_the_frame_and_names_the_frame_otherwise():
    assert parse_region(" 150, 100,60,45 ", 400, 300) == Region(150, 100, 60, 45)
    assert parse_region(None, 400, 300) is None and parse_region(" ", 400, 300) is None
    for text, words in (("150,100,0,45", "empty"), ("350,100,60,45", "outside"), ("1,2,3", "x,y,w,h"), ("-1,0,5,5", "x,y,w,h"), ("a,b,c,d", "x,y,w,h")):
        with pytest.raises(ClientError, match=words) as caught:
            parse_region(text, 400, 300)
        assert "400x300" in caught.value.message


def test_context_is_clipped_at_the_frame():
    window, inner = Region(5, 280, 60, 20).with_context(24, 400, 300)
    assert window == Region(0, 256, 89, 44) and inner == Region(5, 24, 60, 20)


@pytest.fixture(scope="module")
def span_handler(tmp_path_factory):
    folder = tmp_path_factory.mktemp("span")
    shutil.copy(ROOT / "weights" / "span_clean.pt", folder / "model.pt")
    ctx = make_context(folder, {"tile": 192, "overlap": 24, "precision": "float32", "execution": "pytorch"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx


def test_a_region_is_that_window_of_the_whole_frames_result(span_handler):
    handler, ctx = span_handler
    photo = real_photo(400, 300)
    status, whole = handler_reply(handler, ctx, {"data": encode(photo)})
    assert status == 200
    status, part = handler_reply(handler, ctx, {"data": encode(photo), "region": "150,100,60,45"})
    assert status == 200 and ctx.get_response_headers(0)["X-Output-Size"] == "240x180"
    window = rgb_pixels(whole)[400:580, 600:840]
    assert np.abs(rgb_pixels(part) - window).mean() <= 1.5  # the bar
    # and no seam: without the frame's context around it, the region's border was 22 levels off
    assert np.abs(rgb_pixels(part) - window).max() <= 2
    # at the frame's corner the context is clipped the same way the whole frame's edge is
    status, corner = handler_reply(handler, ctx, {"data": encode(photo), "region": "0,0,40,30", "outscale": "2"})
    assert status == 200 and rgb_pixels(corner).shape == (60, 80, 3)


def test_a_region_of_a_frame_too_large_to_enlarge_whole(span_handler):
    handler, ctx = span_handler
    frame = encode(synthetic_photo(2400, 1800))  # 4.3 MP: over max_input_pixels and x4 over max_output_pixels
    status, _ = handler_reply(handler, ctx, {"data": frame})
    assert status == 400
    status, body = handler_reply(handler, ctx, {"data": frame, "region": "2000,1500,64,48"})
    assert status == 200 and rgb_pixels(body).shape == (192, 256, 3)
    status, body = handler_reply(handler, ctx, {"data": frame, "region": "0,0,1600,1500"})
    assert status == 400 and b"max_output_pixels" in body
    status, body = handler_reply(handler, ctx, {"data": frame, "region": "2390,0,20,20"})
    assert status == 400 and b"2400x1800" in body


def test_cli_region_on_photos_and_a_bad_region(tmp_path, capsys):
    from PIL import Image

    from dronesr.cli.main import main

    photo = tmp_path / "p.png"
    photo.write_bytes(encode(real_photo(400, 300)))
    assert main(["upscale", str(photo), "-o", str(tmp_path / "out"), "--model", "srresnet", "--region", "150,100,60,45", "--restore", "0"]) == 0
    assert Image.open(tmp_path / "out" / "p.png").size == (240, 180)
    assert main(["upscale", str(photo), "-o", str(tmp_path / "out2"), "--model", "srresnet", "--region", "390,0,20,20"]) == 1
    assert "outside the frame (the frame is 400x300)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["upscale", str(photo), "-o", str(tmp_path / "out3"), "--region", "1,2"])
    assert caught.value.code == 2 and "x,y,w,h" in capsys.readouterr().err
