"""GeoTIFF in, GeoTIFF out (dronesr/image/geotiff.py through the command line): the CRS, the scaled
geotransform, nodata and alpha masks, overviews, COG, and a clear refusal of 16-bit bands. The maps
are small GeoTIFFs written here; a tiny random network with small tiles enlarges them in several
windows."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin

from dronesr.checkpoint import save_model
from dronesr.cli.main import main
from dronesr.image.geotiff import read_provenance_xmp
from dronesr.image.provenance import read_record
from tests.helpers import synthetic_photo, tiny_srresnet

ORIGIN = (500_000.0, 5_500_000.0)  # UTM 33N, metres
TILE = ["--tile", "48", "--precision", "float32"]


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "tiny.pt"
    save_model(tiny_srresnet(), path)
    return path


def write_map(path, width=160, height=100, bands=3, dtype="uint8", nodata=0, alpha=False):
    """A GeoTIFF in EPSG:32633 with 0.1 m pixels; its top-left corner has no data."""
    rgb = synthetic_photo(width, height).transpose(2, 0, 1).copy()
    rgb[rgb == 0] = 1  # data pixels never read as nodata
    valid = np.ones((height, width), bool)
    valid[:30, :40] = False
    profile = {"driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": dtype, "crs": "EPSG:32633",
               "transform": from_origin(*ORIGIN, 0.1, 0.1), "tiled": True, "blockxsize": 32, "blockysize": 32}
    if nodata is not None and not alpha:
        profile["nodata"] = nodata
        rgb[:, ~valid] = nodata
    with rasterio.open(path, "w", **profile) as dataset:
        if alpha:
            dataset.write(np.concatenate([rgb, np.where(valid, 255, 0).astype(np.uint8)[None]]))
            dataset.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
        else:
            dataset.write(rgb.astype(dtype) * (257 if dtype == "uint16" else 1))
    return valid


def upscale(*args) -> int:
    return main(["upscale", *(str(a) for a in args)])


def test_a_geotiff_comes_back_georeferenced_with_its_nodata(tmp_path, weights):
    valid = write_map(tmp_path / "ortho.tif")
    assert upscale(tmp_path / "ortho.tif", "-o", tmp_path / "out", "--model", weights, *TILE) == 0
    with rasterio.open(tmp_path / "out" / "ortho.tif") as result:
        assert result.crs.to_epsg() == 32633 and (result.width, result.height) == (640, 400)
        assert (result.transform.c, result.transform.f) == ORIGIN  # same origin
        assert result.transform.a == pytest.approx(0.025) and result.transform.e == pytest.approx(-0.025)
        assert result.bounds == pytest.approx((ORIGIN[0], ORIGIN[1] - 10.0, ORIGIN[0] + 16.0, ORIGIN[1]))
        assert result.nodata == 0 and result.profile["tiled"] and result.overviews(1) == [2]
        mask = result.dataset_mask()
        assert np.array_equal(mask > 0, valid.repeat(4, 0).repeat(4, 1))  # nodata everywhere it was, and only there
        assert (result.read()[:, :120, :160] == 0).all()
        record = read_record(read_provenance_xmp(tmp_path / "out" / "ortho.tif"))
        assert record["Model"] == "tiny.pt" and "DRONESR_PROVENANCE" in result.tags()


def test_cog_and_an_alpha_band(tmp_path, weights):
    valid = write_map(tmp_path / "rgba.tif", bands=4, alpha=True)
    assert upscale(tmp_path / "rgba.tif", "-o", tmp_path / "out", "--model", weights, *TILE, "--cog", "--outscale", 2) == 0
    with rasterio.open(tmp_path / "out" / "rgba.tif") as result:
        assert result.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert result.count == 4 and result.colorinterp[3] == ColorInterp.alpha and (result.width, result.height) == (320, 200)
        assert result.transform.a == pytest.approx(0.05) and (result.transform.c, result.transform.f) == ORIGIN
        assert np.array_equal(result.read(4) > 0, valid.repeat(2, 0).repeat(2, 1))


def test_a_16_bit_map_is_refused_with_the_way_to_convert_it(tmp_path, weights, capsys):
    write_map(tmp_path / "dem.tif", dtype="uint16")
    assert upscale(tmp_path / "dem.tif", "-o", tmp_path / "out", "--model", weights, *TILE) == 1
    err = capsys.readouterr().err
    assert "uint16" in err and "gdal_translate -ot Byte -scale" in err and not (tmp_path / "out" / "dem.tif").exists()


def test_a_photo_can_be_written_as_tiff(tmp_path, weights):
    from PIL import Image

    Image.fromarray(synthetic_photo(100, 80)).save(tmp_path / "p.png")
    assert upscale(tmp_path / "p.png", "-o", tmp_path / "out", "--model", weights, *TILE, "--format", "tiff") == 0
    with rasterio.open(tmp_path / "out" / "p.tif") as result:
        assert (result.width, result.height, result.count) == (400, 320, 3) and result.crs is None
