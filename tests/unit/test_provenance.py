"""The provenance record in every result (dronesr/image/provenance.py through the handlers)."""

from __future__ import annotations

import hashlib
import io
import shutil

import pytest
from PIL import Image

from dronesr.image.provenance import HEADER, NAMESPACE, Provenance, read_record
from handlers.sr_handler import SuperResolutionHandler
from handlers.style_handler import StyleTransferHandler
from tests.helpers import camera_jpeg, encode, handler_reply, make_context, synthetic_photo, tiny_style_net


def xmp_of(body: bytes) -> bytes:
    info = Image.open(io.BytesIO(body)).info
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
    return xmp if isinstance(xmp, bytes) else xmp.encode()


@pytest.fixture
def sr(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path)
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx, hashlib.sha256((tmp_path / "model.pt").read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_every_sr_result_names_the_model_weights_and_settings(sr, fmt):
    handler, ctx, digest = sr
    status, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 30)), "format": fmt, "outscale": "2"})
    assert status == 200
    record = read_record(xmp_of(body))
    assert record["Model"] == "srgan" and record["WeightsSha256"] == digest and record["Architecture"] == "SRResNet"
    assert record["Scale"] == "4" and record["Outscale"] == "2" and record["Tile"] == "32" and record["Overlap"] == "8"
    assert record["Precision"] in ("float32", "bfloat16", "onnxruntime") and record["Device"] in ("cpu", "cuda:0")
    assert record["Software"].startswith("dronesr ") and record["Created"].endswith("Z")
    header = ctx.get_response_headers(0)[HEADER]
    assert f"weights_sha256={digest}" in header and "model=srgan" in header and header.isascii()


def test_strip_metadata_keeps_the_record_and_provenance_false_drops_it(sr):
    handler, ctx, digest = sr
    _, stripped = handler_reply(handler, ctx, {"body": camera_jpeg(), "strip_metadata": "true"})
    image = Image.open(io.BytesIO(stripped))
    assert not image.getexif() and read_record(xmp_of(stripped))["WeightsSha256"] == digest
    assert b"tiff:Orientation" not in xmp_of(stripped)  # the camera's XMP went with the rest
    _, kept = handler_reply(handler, ctx, {"body": camera_jpeg()})
    assert b'tiff:Orientation="1"' in xmp_of(kept) and read_record(xmp_of(kept))["Model"] == "srgan"  # one packet holds both
    _, without = handler_reply(handler, ctx, {"body": camera_jpeg(), "provenance": "false"})
    assert NAMESPACE.encode() not in without and HEADER not in ctx.get_response_headers(0)
    status, _ = handler_reply(handler, ctx, {"body": camera_jpeg(), "provenance": "maybe"})
    assert status == 400


def test_style_results_carry_the_record(tmp_path):
    from dronesr.checkpoint import save_model

    save_model(tiny_style_net(), tmp_path / "model.pt")
    ctx = make_context(tmp_path)
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    status, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 30)), "strength": "0.5"})
    record = read_record(xmp_of(body))
    assert status == 200 and record["Architecture"] == "StyleNet" and record["Strength"] == "0.5" and ":" in record["Styles"]


def test_record_values_are_escaped_in_xmp():
    record = Provenance("m", "A", 4, {"weights": "ab"}, {"note": 'say "<hi>" & go'})
    assert read_record(record.into_xmp(None))  # well-formed enough to read back
    assert b"<hi>" not in record.xmp_description()


def test_cli_outputs_carry_the_record_unless_told_not_to(tmp_path):
    from dronesr.cli.main import main
    from tests.helpers import ROOT

    photo = tmp_path / "p.jpg"
    photo.write_bytes(camera_jpeg())
    assert main(["upscale", str(photo), "-o", str(tmp_path / "a"), "--model", "srresnet", "--strip-metadata"]) == 0
    record = read_record(xmp_of((tmp_path / "a" / "p.jpg").read_bytes()))
    digest = hashlib.sha256((ROOT / "weights" / "span_clean.pt").read_bytes()).hexdigest()
    assert record["Model"] == "srresnet" and record["WeightsSha256"] == digest and record["Architecture"] == "SPAN"
    assert "RestoreWeightsSha256" in record and 0 <= float(record["Restore"]) <= 1
    assert main(["upscale", str(photo), "-o", str(tmp_path / "b"), "--model", "srresnet", "--no-provenance"]) == 0
    assert NAMESPACE.encode() not in (tmp_path / "b" / "p.jpg").read_bytes()
