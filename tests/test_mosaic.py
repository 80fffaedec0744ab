"""The streaming mosaicker: blending, seams, nodata, streaming behaviour, custom blends."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from conftest import RGB, smooth_field

from geo2map.mosaic.accumulator import StreamingMosaic
from geo2map.mosaic.blend import BLEND_METHODS, blend_weights, get_blend
from geo2map.mosaic.seams import seam_metric
from geo2map.raster.tiling import TileGrid


class Collect:
    """A row sink that assembles the output and records when rows arrived."""

    def __init__(self, count: int, height: int, width: int, dtype="float32") -> None:
        self.out = np.full((count, height, width), np.nan, dtype=dtype)
        self.valid = np.zeros((height, width), bool)
        self.written = np.zeros((height, width), bool)
        self.calls: list[tuple[int, int]] = []

    def __call__(self, row_off: int, col_off: int, data: np.ndarray, valid: np.ndarray) -> None:
        n, w = data.shape[1:]
        block = (slice(row_off, row_off + n), slice(col_off, col_off + w))
        assert not self.written[block].any(), "a pixel was written twice"
        self.written[block] = True
        self.out[(slice(None), *block)] = data
        self.valid[block] = valid.any(axis=0)
        self.calls.append((row_off, n))


def _mosaic(image: np.ndarray, grid: TileGrid, blend: str, per_tile=None, valid=None) -> Collect:
    sink = Collect(image.shape[0], grid.height, grid.width)
    m = StreamingMosaic(grid, image.shape[0], "float32", sink, blend=blend)
    for tile in grid:
        sl = (slice(None), slice(tile.row_off, tile.row_off + grid.size), slice(tile.col_off, tile.col_off + grid.size))
        data = image[sl].astype(np.float32)
        if per_tile is not None:
            data = per_tile(tile, data)
        v = None if valid is None else valid[sl[1:]]
        m.add(tile, data, v)
    m.close()
    return sink


@pytest.fixture(scope="module")
def landsat() -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(RGB) as ds:
        return ds.read().astype(np.float32), ds.read_masks(1) > 0


def test_blends_reproduce_constant_tiles(landsat) -> None:
    image, _ = landsat
    grid = TileGrid(image.shape[2], image.shape[1], 128, 48)
    for blend in BLEND_METHODS:
        out = _mosaic(image, grid, blend).out
        np.testing.assert_allclose(out, image, atol=1e-3)


def test_cosine_hides_per_tile_offsets_none_shows_them(landsat) -> None:
    """Tiles with a constant per-tile offset: cosine leaves no step, 'none' does."""
    image, valid = landsat
    grid = TileGrid(image.shape[2], image.shape[1], 128, 64)
    rng = np.random.default_rng(7)
    offsets = {(t.row, t.col): rng.uniform(-10, 10) for t in grid}

    def shift(tile, data):
        return data + offsets[(tile.row, tile.col)]

    metric = {}
    for blend in ("cosine", "linear", "none"):
        out = _mosaic(image, grid, blend, per_tile=shift).out
        metric[blend] = seam_metric(out, grid, valid)
    assert seam_metric(image, grid, valid) == pytest.approx(1.0, abs=0.05)  # the metric's baseline
    assert metric["cosine"] <= 1.05
    assert metric["linear"] <= 1.05
    assert metric["none"] > 1.2


def test_rows_are_finalised_while_tiles_arrive() -> None:
    """Streaming: rows go to the sink as soon as no later tile can touch them."""
    grid = TileGrid(300, 1000, 64, 16)
    image = smooth_field(np.random.default_rng(1), 2, 1000, 300).astype(np.float32)
    sink = Collect(2, 1000, 300)
    m = StreamingMosaic(grid, 2, "float32", sink)
    assert m._num.shape[1] <= grid.size  # the buffer is one tile tall, whatever the height
    seen_rows_done = []
    for tile in grid:
        m.add(tile, image[:, tile.row_off : tile.row_off + 64, tile.col_off : tile.col_off + 64])
        seen_rows_done.append(m.rows_done)
        assert m.rows_done <= tile.row_off
    m.close()
    assert seen_rows_done[-1] >= 1000 - 64  # all but the last tile row was out before close
    assert sum(n for _, n in sink.calls) == 1000
    np.testing.assert_allclose(sink.out, image, rtol=1e-6)


def test_out_of_order_tiles_refused() -> None:
    grid = TileGrid(200, 200, 64, 16)
    m = StreamingMosaic(grid, 1, "float32", Collect(1, 200, 200))
    m.add(grid.tile(2, 0), np.zeros((1, 64, 64), np.float32))
    with pytest.raises(ValueError, match="row-major"):
        m.add(grid.tile(0, 0), np.zeros((1, 64, 64), np.float32))


def test_invalid_pixels_get_no_weight_and_uncovered_pixels_are_nodata() -> None:
    grid = TileGrid(100, 100, 64, 28)
    image = np.full((1, 100, 100), 5.0, np.float32)
    valid = np.ones((100, 100), bool)
    valid[:40, :40] = False
    sink = _mosaic(image, grid, "cosine", per_tile=lambda t, d: np.where(np.isfinite(d), d, 0), valid=valid)
    assert np.isnan(sink.out[0, :40, :40]).all()
    assert not sink.valid[:40, :40].any()
    np.testing.assert_allclose(sink.out[0][valid], 5.0)
    # garbage under invalid pixels never leaks into valid ones
    garbage = _mosaic(
        image,
        grid,
        "cosine",
        per_tile=lambda t, d: np.where(valid[None, t.row_off : t.row_off + 64, t.col_off : t.col_off + 64], d, 1e6),
        valid=valid,
    )
    np.testing.assert_allclose(garbage.out[0][valid], 5.0)


def test_custom_blend_callable_and_validation() -> None:
    def flat(h: int, w: int, overlap: int) -> np.ndarray:
        return np.ones((h, w), np.float32)

    assert get_blend(flat) is flat
    grid = TileGrid(150, 150, 64, 32)
    image = np.arange(150 * 150, dtype=np.float32).reshape(1, 150, 150)
    np.testing.assert_allclose(_mosaic(image, grid, flat).out, image)
    with pytest.raises(ValueError, match="unknown blend"):
        get_blend("gaussian")
    with pytest.raises(ValueError, match="> 0"):
        blend_weights(lambda h, w, o: np.zeros((h, w)), 8, 8, 2)


def test_cosine_weights_are_a_partition_of_unity() -> None:
    w = blend_weights("cosine", 1, 128, 32)[0]
    # two tiles 96 px apart overlap by 32: their weights sum to 1 across the overlap
    np.testing.assert_allclose(w[96:] + w[:32], 1.0, rtol=1e-6)
    assert w.min() > 0 and w[0] < 0.01 and w[64] == 1.0


def test_column_stripes_give_the_same_mosaic(tmp_path) -> None:
    """Very wide scenes are mosaicked in column stripes; the result does not change."""
    from conftest import write_raster

    from geo2map.mosaic.stream import remosaic_raster

    rng = np.random.default_rng(11)
    data = (smooth_field(rng, 2, 300, 1700) * 1000).astype("float32")
    data[:, 100:140, 600:900] = np.nan
    src = write_raster(tmp_path / "wide.tif", data)
    grid = TileGrid(1700, 300, 128, 40)
    stripes = grid.column_stripes(512)
    assert len(stripes) == 4 and stripes[0] == (0, 512) and stripes[-1][1] == 1700
    offsets = {(t.row, t.col): float(rng.uniform(-50, 50)) for t in grid}
    outs = []
    for width in (8192, 512):
        out = tmp_path / f"out{width}.tif"
        remosaic_raster(src, out, size=128, overlap=40, max_stripe_width=width)
        with rasterio.open(out) as ds:
            outs.append(ds.read())
    np.testing.assert_array_equal(np.isnan(outs[0]), np.isnan(data))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6)
    np.testing.assert_allclose(outs[1], data, rtol=1e-5)
    # with per-tile offsets (tiles differ), stripes still blend exactly like one pass
    grid_sink = [Collect(1, 300, 1700), Collect(1, 300, 1700)]
    image = data[:1]
    for sink, width in zip(grid_sink, (8192, 512), strict=True):
        for c0, c1 in grid.column_stripes(width):
            m = StreamingMosaic(grid, 1, "float32", sink, columns=(c0, c1))
            for t in grid:
                if t.col in grid.tiles_in_columns(c0, c1):
                    d = image[:, t.row_off : t.row_off + 128, t.col_off : t.col_off + 128] + offsets[(t.row, t.col)]
                    m.add(t, d, np.isfinite(d[0]))
            m.close()
        assert sink.written.all()
    np.testing.assert_allclose(grid_sink[1].out, grid_sink[0].out, rtol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "blend", "per_band"),
    [("uint8", "cosine", False), ("float32", "linear", True), ("int16", "none", False), ("float64", "cosine", True)],
)
def test_streaming_equals_a_whole_array_blend(dtype, blend, per_band) -> None:
    """The ring buffer, reused products and in-place division give exactly Σw·x / Σw of the whole canvas."""
    rng = np.random.default_rng(3)
    grid = TileGrid(301, 233, 64, 24)
    w = blend_weights(blend, 64, 64, 24)
    winner = blend == "none"
    num = np.zeros((2, 233, 301), np.float64 if dtype.startswith("float") else np.float32)  # as the mosaic sums
    den = np.zeros((2 if per_band else 1, 233, 301), np.float32)
    sink = Collect(2, 233, 301, dtype="float64")
    m = StreamingMosaic(grid, 2, dtype, sink, blend=blend, per_band=per_band)
    for tile in grid:
        data = (rng.random((2, 64, 64)) * 300 - 20).astype(np.float32)
        valid = rng.random((2, 64, 64)) > 0.2 if tile.col % 2 else None
        m.add(tile, data, valid)
        wt = w if valid is None else w * valid
        if wt.ndim == 3 and not per_band:
            wt = wt.min(axis=0, keepdims=True)
        box = (slice(None), slice(tile.row_off, tile.row_off + 64), slice(tile.col_off, tile.col_off + 64))
        if winner:
            better = wt > den[box]
            np.copyto(num[box], data, where=better)
            np.maximum(den[box], wt, out=den[box])
        else:
            num[box] += wt * data
            den[box] += wt
    m.close()
    ok = den > 0
    ref = np.where(ok, num if winner else num / np.where(ok, den, 1), 0)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        ref = np.clip(np.rint(ref), info.min, info.max)
    ref = ref.astype(dtype)
    got = sink.out.astype(dtype)
    np.testing.assert_array_equal(np.where(ok, got, 0), np.where(ok, ref, 0))
    assert (sink.valid == ok.any(axis=0)).all()


def test_torch_and_numpy_blending_kernels_agree() -> None:
    """The mosaicker blends with torch's fused, multi-threaded kernels once torch is loaded and
    with numpy's otherwise (the identity model loads no torch): the same sums to float32 rounding,
    and read-only or mixed-dtype arrays stay on numpy."""
    torch = pytest.importorskip("torch")
    from geo2map.mosaic import kernels

    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (3, 40, 50)).astype(np.float32)
    w = rng.uniform(0, 1, (40, 50)).astype(np.float32)
    a = rng.uniform(0, 5, (3, 40, 50)).astype(np.float32)
    b = a.copy()
    kernels.add_product(a, x, w)  # torch (loaded)
    assert kernels._torch(a, x, w) is torch
    np.add(b, w * x, out=b)  # numpy
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    ro = w.copy()
    ro.setflags(write=False)
    assert kernels._torch(a, x, ro) is None and kernels._torch(a.astype(np.float64), x) is None
    kernels.add_product(a, x, ro, np.empty_like(a))  # numpy, through the scratch buffer
    np.testing.assert_allclose(a, b + w * x, rtol=1e-6, atol=1e-6)
