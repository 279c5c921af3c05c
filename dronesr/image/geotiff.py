"""TIFF and GeoTIFF in, (Geo)TIFF out, with rasterio (GDAL's wheels): read in windows, written tiled.

An orthomosaic keeps what makes it a map: its CRS, its geotransform (same origin and bounds, the
pixel size divided by the output scale), its nodata value, alpha band or internal mask. Where a map
has no data the result has none either: the mask is enlarged by nearest neighbour (each nodata
input pixel becomes an outscale x outscale block of nodata), and those pixels are written as
nodata whatever the network made of them. Overviews are built (average); ``cog`` writes a
Cloud-Optimised GeoTIFF instead (GDAL's COG driver: tiled, overviews inside, in the order a
range-reading client wants).

8-bit bands only: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGB + alpha). A 16-bit or float band
(a DEM, a multispectral or radiometric map) is refused with the GDAL command that makes an 8-bit
RGB copy: how to map its values into 0..255 is the surveyor's choice, not ours.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dronesr.errors import ClientError
from dronesr.image.provenance import Provenance

TIFF_BLOCK = 512  # output tile side
GDAL_OPTIONS = {"GDAL_CACHEMAX": 128, "GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_TIFF_INTERNAL_MASK": True}
COPY_WINDOW = 2048  # store -> TIFF copy, output pixels per window side


def _rasterio():
    import rasterio  # imported on use: the server and most CLI runs never need GDAL
    import rasterio.shutil  # noqa: F401 - rasterio.shutil.copy: the COG driver

    return rasterio


@contextlib.contextmanager
def gdal_env() -> Iterator[None]:
    rasterio = _rasterio()
    with rasterio.Env(**GDAL_OPTIONS), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        yield


@dataclass(frozen=True)
class Georeference:
    """What the output keeps of a (Geo)TIFF: CRS, geotransform, nodata, the kind of mask."""

    crs: object | None  # rasterio CRS
    transform: object | None  # affine.Affine
    nodata: float | None
    alpha: bool  # the mask is an alpha band (else: nodata value or internal mask, or none)
    internal_mask: bool  # a GDAL mask band (not nodata, not alpha)

    def scaled_transform(self, size: tuple[int, int], out_size: tuple[int, int]):
        """The geotransform of a ``size`` raster resized to ``out_size``: same origin and bounds."""
        from affine import Affine

        return None if self.transform is None else self.transform @ Affine.scale(size[0] / out_size[0], size[1] / out_size[1])


class RasterSource:
    """A TIFF read in windows (streamed.Source): upright 8-bit RGB and its mask (255 where there
    is data). ClientError for what it cannot enlarge."""

    def __init__(self, path: Path):
        rasterio = _rasterio()
        self.path = path
        with gdal_env():
            try:
                self.dataset = rasterio.open(path)
            except rasterio.errors.RasterioIOError as exc:
                raise ClientError(f"The TIFF could not be read: {exc}.", "bad_image") from None
        ds = self.dataset
        if any(dtype != "uint8" for dtype in ds.dtypes):
            self.close()
            raise ClientError(
                f"the raster has {', '.join(sorted(set(ds.dtypes)))} bands; dronesr enlarges 8-bit RGB(A) images and maps. "
                f"Make an 8-bit RGB copy first, choosing how values map to 0..255, e.g. "
                f"`gdal_translate -ot Byte -scale -b 1 -b 2 -b 3 {path.name} rgb8.tif`.",
                "unsupported_format", 415,
            )
        if ds.count not in (1, 2, 3, 4):
            self.close()
            raise ClientError(
                f"the raster has {ds.count} bands; dronesr enlarges grey, grey+alpha, RGB or RGBA. "
                f"Pick three bands first, e.g. `gdal_translate -b 1 -b 2 -b 3 {path.name} rgb.tif`.",
                "unsupported_format", 415,
            )
        from rasterio.enums import ColorInterp, MaskFlags

        self.width, self.height = ds.width, ds.height
        self.colour = [1, 1, 1] if ds.count < 3 else [1, 2, 3]
        alpha = ds.count in (2, 4) or ColorInterp.alpha in ds.colorinterp
        flags = ds.mask_flag_enums[0]
        self.has_mask = alpha or MaskFlags.all_valid not in flags
        internal = self.has_mask and not alpha and ds.nodata is None and MaskFlags.per_dataset in flags
        self.alpha_band = ds.count if alpha else None
        georeferenced = ds.crs is not None or not ds.transform.is_identity
        self.georeference = Georeference(ds.crs, ds.transform if georeferenced else None, ds.nodata, alpha, internal)

    def rgb(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        from rasterio.windows import Window

        bands = self.dataset.read(self.colour, window=Window(x, y, width, height))
        return np.ascontiguousarray(bands.transpose(1, 2, 0))

    def mask(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        from rasterio.windows import Window

        window = Window(x, y, width, height)
        if self.alpha_band:
            return self.dataset.read(self.alpha_band, window=window)
        return self.dataset.dataset_mask(window=window)

    def close(self) -> None:
        self.dataset.close()


def overview_factors(width: int, height: int, smallest: int = 256) -> list[int]:
    """2, 4, 8, ... until the overview's longer side is under ``smallest`` pixels."""
    factors, factor = [], 2
    while max(width, height) / factor >= smallest:
        factors.append(factor)
        factor *= 2
    return factors


def write_tiff(store: Path, target: Path, georeference: Georeference | None, source_size: tuple[int, int], cog: bool = False,
               provenance: Provenance | None = None, scratch: Path | None = None) -> None:
    """The output TIFF at ``target`` from ``store`` (the uncompressed pixels, RGB or RGB + mask):
    tiled, DEFLATE, BigTIFF where it may pass 4 GB; the georeference scaled to the output's size;
    masked pixels written as nodata (or the mask as an alpha band / internal mask, as the source had
    it); overviews; with ``cog`` GDAL's COG driver lays it out (``scratch``: where the tiled
    intermediate goes)."""
    rasterio = _rasterio()
    from rasterio.windows import Window

    with gdal_env(), rasterio.open(store) as pixels:
        width, height, channels = pixels.width, pixels.height, pixels.count
        masked = channels == 4
        geo = georeference or Georeference(None, None, None, alpha=masked, internal_mask=False)
        if masked and not (geo.alpha or geo.internal_mask) and geo.nodata is None:
            geo = Georeference(geo.crs, geo.transform, geo.nodata, alpha=True, internal_mask=False)
        bands = 4 if masked and geo.alpha else 3
        profile = {
            "driver": "GTiff", "width": width, "height": height, "count": bands, "dtype": "uint8", "tiled": True,
            "blockxsize": TIFF_BLOCK, "blockysize": TIFF_BLOCK, "compress": "deflate", "predictor": 2, "BIGTIFF": "IF_SAFER",
            "photometric": "RGB", "interleave": "pixel",
        }
        if geo.crs is not None:
            profile["crs"] = geo.crs
        if geo.transform is not None:
            profile["transform"] = geo.scaled_transform(source_size, (width, height))
        if geo.nodata is not None:
            profile["nodata"] = geo.nodata
        if bands == 4:
            profile["alpha"] = "YES"
        tiled = scratch / "tiled.tif" if cog else target
        with rasterio.open(tiled, "w", **profile) as out:
            for y in range(0, height, COPY_WINDOW):
                for x in range(0, width, COPY_WINDOW):
                    window = Window(x, y, min(COPY_WINDOW, width - x), min(COPY_WINDOW, height - y))
                    block = pixels.read(window=window)
                    rgb, mask = block[:3], block[3] if masked else None
                    if mask is not None and geo.nodata is not None:
                        rgb = _nodata_where(rgb, mask, int(geo.nodata))
                    out.write(rgb, [1, 2, 3], window=window)
                    if bands == 4:
                        out.write(mask, 4, window=window)
                    elif mask is not None and geo.internal_mask:
                        out.write_mask(mask, window=window)
            if provenance is not None:
                _write_provenance(out, provenance)
            factors = overview_factors(width, height)
            if factors and not cog:
                out.build_overviews(factors, rasterio.enums.Resampling.average)
                out.update_tags(ns="rio_overview", resampling="average")
        if cog:
            rasterio.shutil.copy(
                tiled, target, driver="COG", COMPRESS="DEFLATE", PREDICTOR="2", BIGTIFF="IF_SAFER", BLOCKSIZE=str(TIFF_BLOCK),
                OVERVIEW_RESAMPLING="AVERAGE",
            )
            tiled.unlink(missing_ok=True)


def _nodata_where(rgb: np.ndarray, mask: np.ndarray, nodata: int) -> np.ndarray:
    """``rgb`` (3 x H x W) with the nodata value where ``mask`` is 0, and no data pixel that
    reads as nodata: one whose three bands all came out equal to it is moved one level off."""
    rgb = rgb.copy()
    clash = (mask != 0) & (rgb == nodata).all(axis=0)
    rgb[0][clash] = nodata + 1 if nodata < 255 else nodata - 1
    rgb[:, mask == 0] = nodata
    return rgb


def _write_provenance(dataset, provenance: Provenance) -> None:
    """The provenance record as GDAL metadata (``DRONESR_PROVENANCE``, the header's text) and as
    the TIFF's XMP packet (tag 700, GDAL's ``xml:XMP`` domain)."""
    dataset.update_tags(DRONESR_PROVENANCE=provenance.header(), TIFFTAG_SOFTWARE=provenance.software)
    packet = provenance.into_xmp(None).decode("utf-8")
    # rasterio writes a metadata domain as "key=value" items and an xml: domain is one item: split
    # the packet at its first "=" so that the item is the packet itself.
    key, _, value = packet.partition("=")
    dataset.update_tags(ns="xml:XMP", **{key: value})


def read_provenance_xmp(path: Path) -> bytes:
    """The XMP packet of a TIFF written here (tests, and users checking a file)."""
    rasterio = _rasterio()
    with gdal_env(), rasterio.open(path) as dataset:
        return dataset.tags(ns="xml:XMP").get("xml:XMP", "").encode("utf-8")
