"""Identity round trips tile -> mosaic on real GeoTIFFs, cross-checked by gdalinfo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from conftest import GRD, RGB, SLC, gdalinfo_json, smooth_field, write_raster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo2map.mosaic.stream import remosaic_raster
from geo2map.raster.open import NOTE_COMPLEX, NOTE_WARPED, open_raster
from geo2map.tile_folder import mosaic_tiles, tile_raster

DTYPES = ["uint8", "uint16", "int16", "float32"]


def _assert_same_georef(a: Path, b: Path) -> None:
    ja, jb = gdalinfo_json(a), gdalinfo_json(b)
    assert ja["size"] == jb["size"]
    assert ja.get("geoTransform") == jb.get("geoTransform")
    assert ja.get("coordinateSystem", {}).get("wkt") == jb.get("coordinateSystem", {}).get("wkt")
    assert [bd.get("noDataValue") for bd in ja["bands"]] == [bd.get("noDataValue") for bd in jb["bands"]]
    assert len(ja["bands"]) == len(jb["bands"])
    assert [bd["type"] for bd in ja["bands"]] == [bd["type"] for bd in jb["bands"]]


def _assert_same_pixels(a: Path, b: Path, dtype: str) -> None:
    with rasterio.open(a) as sa, rasterio.open(b) as sb:
        da, db = sa.read(masked=True), sb.read(masked=True)
        # valid = GDAL's mask and not NaN: a NaN without a nodata tag is valid to GDAL but not data to
        # geo2map, which writes such pixels as masked (found by hypothesis: float32, NaN holes, no tag)
        ma = (sa.read_masks() > 0) & np.isfinite(sa.read())
        mb = (sb.read_masks() > 0) & np.isfinite(sb.read())
    np.testing.assert_array_equal(ma, mb)
    va, vb = np.where(ma, da.filled(0), 0), np.where(mb, db.filled(0), 0)
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(vb, va, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(vb, va)


def _random_raster(
    tmp: Path, rng: np.random.Generator, dtype: str, bands: int, h: int, w: int, nodata_mode: str
) -> Path:
    base = smooth_field(rng, bands, h, w)
    if dtype == "float32":
        data = (base * 2000 - 500).astype(np.float32)
    else:
        info = np.iinfo(dtype)
        data = (info.min + 1 + base * (min(info.max, 60000) - info.min - 2)).astype(dtype)
    hole = rng.random((h, w)) < 0.15
    hole[: h // 3, : w // 3] = True  # a large all-nodata area: whole tiles skipped
    nodata = None
    mask = None
    if nodata_mode == "value":
        nodata = 0 if dtype != "int16" else -32768
        data[:, hole] = nodata
        data[0, rng.random((h, w)) < 0.05] = nodata  # per-band nodata (GDAL semantics)
    elif nodata_mode == "mask":
        mask = ~hole
    elif nodata_mode == "nan" and dtype == "float32":
        data[:, hole] = np.nan
    return write_raster(tmp / f"src_{dtype}_{nodata_mode}.tif", data, nodata=nodata, mask=mask)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dtype=st.sampled_from(DTYPES),
    bands=st.integers(1, 4),
    h=st.integers(20, 300),
    w=st.integers(20, 300),
    size=st.sampled_from([32, 64, 100, 128]),
    overlap_frac=st.floats(0, 0.6),
    nodata_mode=st.sampled_from(["none", "value", "mask", "nan"]),
    blend=st.sampled_from(["cosine", "linear", "none"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_identity_round_trip_tile_then_mosaic(
    tmp_path_factory, dtype, bands, h, w, size, overlap_frac, nodata_mode, blend, seed
) -> None:
    tmp = tmp_path_factory.mktemp("rt")
    rng = np.random.default_rng(seed)
    src = _random_raster(tmp, rng, dtype, bands, h, w, nodata_mode)
    overlap = int(size * overlap_frac)
    tile_raster(src, tmp / "tiles", size=size, overlap=overlap)
    out = tmp / "out.tif"
    mosaic_tiles(tmp / "tiles", out, blend=blend)
    _assert_same_georef(src, out)
    _assert_same_pixels(src, out, dtype)
    # the one-pass streaming pipeline gives the same result
    out2 = tmp / "out2.tif"
    remosaic_raster(src, out2, size=size, overlap=overlap, blend=blend)
    _assert_same_georef(src, out2)
    _assert_same_pixels(src, out2, dtype)


def test_real_landsat_round_trip_exact(tmp_path: Path) -> None:
    tile_raster(RGB, tmp_path / "tiles", size=256, overlap=64)
    out = tmp_path / "rgb.tif"
    mosaic_tiles(tmp_path / "tiles", out)
    _assert_same_georef(RGB, out)
    _assert_same_pixels(RGB, out, "uint8")
    with rasterio.open(out) as ds:
        assert ds.block_shapes[0] == (512, 512)
        assert ds.compression.name.lower() == "deflate"


def test_real_grd_gcps_warped_round_trip(tmp_path: Path) -> None:
    """The GCP-only Sentinel-1 GRD is warped to UTM; tiles and mosaic keep that grid exactly."""
    result = tile_raster(GRD, tmp_path / "tiles", size=256, overlap=64)
    assert result.written == len(result.grid)
    out = tmp_path / "grd.tif"
    mosaic_tiles(tmp_path / "tiles", out)
    with open_raster(GRD) as src:
        assert src.crs.to_epsg() == 32643  # UTM 43N: the Tamil Nadu coast
        ref, ref_valid = src.read(rasterio.windows.Window(0, 0, src.width, src.height))
        with rasterio.open(out) as ds:
            assert ds.crs == src.crs and ds.transform.almost_equals(src.transform)
            assert (ds.width, ds.height) == (src.width, src.height)
            assert NOTE_WARPED in ds.tags()
            got = ds.read()
            got_valid = ds.read_masks() > 0
    assert 0.5 < ref_valid[0].mean() < 0.95  # the rotated swath leaves nodata corners
    np.testing.assert_array_equal(got_valid[0], ref_valid[0])
    np.testing.assert_array_equal(got[:, ref_valid[0]], ref[:, ref_valid[0]])
    info = gdalinfo_json(out)
    assert "32643" in info["coordinateSystem"]["wkt"]


def test_complex_slc_read_as_amplitude(tmp_path: Path) -> None:
    out = tmp_path / "slc.tif"
    remosaic_raster(SLC, out, size=128, overlap=32)
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "float32"
        assert "amplitude" in ds.tags()[NOTE_COMPLEX]
        assert ds.crs.is_projected
        amp = ds.read(1, masked=True)
    assert amp.min() >= 0 and amp.count() > 0.5 * amp.size
    # amplitude equals |I + jQ| of the source (checked without warping)
    with rasterio.open(SLC) as raw:
        z = raw.read(1, window=rasterio.windows.Window(0, 0, 50, 40))
    with open_raster(SLC, dst_crs=None) as src:
        vrt = src._stack[1]  # the complex -> amplitude VRT, before warping
        amp0 = vrt.read(1, window=rasterio.windows.Window(0, 0, 50, 40))
    np.testing.assert_allclose(amp0, np.abs(z.astype(np.complex64)), rtol=1e-6)


def test_cog_and_creation_options(tmp_path: Path) -> None:
    out = tmp_path / "cog.tif"
    remosaic_raster(RGB, out, preset="cog", creation_options={"compress": "zstd"})
    info = gdalinfo_json(out)
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "ZSTD"
    assert info["bands"][0]["overviews"], "COG has overviews"
    _assert_same_pixels(RGB, out, "uint8")
    out2 = tmp_path / "zstd.tif"
    remosaic_raster(RGB, out2, preset="zstd", creation_options={"blockxsize": "256", "blockysize": "256"})
    with rasterio.open(out2) as ds:
        assert ds.compression.name.lower() == "zstd" and ds.block_shapes[0] == (256, 256)


def test_cog_deflate_level(tmp_path: Path) -> None:
    """The COG preset compresses at DEFLATE_LEVEL like the default preset; --co LEVEL=6 wins.

    Pinned against GDAL's own COG driver on the same pixels at level 1 and 6: same bytes.
    """
    import rasterio.shutil

    from geo2map.raster.write import DEFLATE_LEVEL

    sizes = {}
    for name, options in (("default", {}), ("six", {"level": "6"})):
        out = tmp_path / f"{name}.tif"
        remosaic_raster(RGB, out, preset="cog", creation_options=options)
        assert gdalinfo_json(out)["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"] == "DEFLATE"
        _assert_same_pixels(RGB, out, "uint8")
        sizes[name] = out.stat().st_size
    for level in (DEFLATE_LEVEL, 6):
        ref = tmp_path / f"gdal{level}.tif"
        cog = {"compress": "deflate", "predictor": "YES", "blocksize": 512, "overviews": "AUTO"}
        rasterio.shutil.copy(tmp_path / "six.tif", ref, driver="COG", level=level, overview_resampling="average", **cog)
        sizes[level] = ref.stat().st_size
    assert sizes[6] < sizes[DEFLATE_LEVEL]
    assert abs(sizes["default"] - sizes[DEFLATE_LEVEL]) < 0.01 * sizes[6]
    assert abs(sizes["six"] - sizes[6]) < 0.01 * sizes[6]


def test_pair_on_another_grid_is_resampled(tmp_path: Path) -> None:
    """--pair: the second raster (another CRS and resolution) is cut on SRC's grid."""
    from rasterio.warp import calculate_default_transform, reproject

    with rasterio.open(RGB) as src:
        t, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        data = np.zeros((src.count, h, w), dtype="uint8")
        reproject(
            src.read(),
            data,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=t,
            dst_crs="EPSG:4326",
            src_nodata=0,
            dst_nodata=0,
        )
    other = write_raster(tmp_path / "rgb_4326.tif", data, nodata=0, crs="EPSG:4326", transform=t)
    res = tile_raster(RGB, tmp_path / "pairs", size=128, overlap=32, pair=other)
    import geopandas as gpd

    gdf = gpd.read_file(tmp_path / "pairs" / "tiles.gpkg")
    assert len(gdf) == res.written and {"pair_file", "file", "row", "col"} <= set(gdf.columns)
    for a_rel, b_rel in zip(gdf["file"][:5], gdf["pair_file"][:5], strict=True):
        with rasterio.open(tmp_path / "pairs" / a_rel) as a, rasterio.open(tmp_path / "pairs" / b_rel) as b:
            assert a.transform == b.transform and a.crs == b.crs and a.shape == b.shape
            va = a.read_masks(1) > 0
            vb = b.read_masks(1) > 0
            both = va & vb
            if both.sum() > 100:  # a round trip through EPSG:4326 stays close to the original
                diff = np.abs(a.read(1).astype(int) - b.read(1).astype(int))[both]
                assert np.median(diff) < 20


def test_deflate_preset_level_and_user_override() -> None:
    """The default preset compresses at DEFLATE level 1 (fast); --co ZLEVEL and another codec win."""
    from geo2map.raster.write import DEFLATE_LEVEL, OutputSpec

    def profile(**options: str) -> dict:
        return OutputSpec(width=8, height=8, transform=None, crs=None, count=1, dtype="uint8",
                          creation_options=options).gtiff_profile()  # fmt: skip

    assert DEFLATE_LEVEL == 1 and profile()["zlevel"] == 1
    assert profile(zlevel="6")["zlevel"] == "6"
    assert "zlevel" not in profile(compress="LZW")
