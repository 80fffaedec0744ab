"""geo2map translate: trained models on real rasters, seams, errors, cancelling, band and pixel-size notes.

Tiling, scaling in every tile and train-mode inference are in test_translate_tiles.py."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, GRD, RGB, SHARED, gdalinfo_json, geo2map_exe, smooth_field, write_raster
from rasterio.crs import CRS

from geo2map.cli.main import cli
from geo2map.errors import BandSelectionError, InputError
from geo2map.models.package import LoadedModel, load_model, save_model
from geo2map.mosaic.seams import seam_metric
from geo2map.raster.open import open_raster
from geo2map.raster.padding import padded_grid
from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer
from geo2map.translate import translate_raster

BEN = DATA / "bigearthnet"


# ---------------------------------------------------------------------------
# a tiny model trained on real Sentinel-1 VH → Sentinel-2 RGB pairs
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """resnet_6blocks, ngf 8, instance norm (its output depends on each tile's statistics)."""
    tmp = tmp_path_factory.mktemp("tiny")
    for side in ("A", "B"):
        (tmp / "data" / side).mkdir(parents=True)
    for f in sorted((BEN / "A").glob("*.tif")):
        with rasterio.open(f) as src:  # VH only: a one-band SAR input like sar2rgb's
            profile = {**src.profile, "count": 1}
            with rasterio.open(tmp / "data" / "A" / f.name, "w", **profile) as dst:
                dst.write(src.read(2), 1)
                dst.set_band_description(1, "VH")
        (tmp / "data" / "B" / f.name).write_bytes((BEN / "B" / f.name).read_bytes())
    cfg = resolve_config(
        "pix2pix",
        "paper",
        None,
        dict(
            data=str(tmp / "data"),
            scaling_a={"name": "sar", "params": {"input": "db", "method": "db", "db_min": -30, "db_max": 5}},
            scaling_b={"name": "optical_reflectance", "params": {"mode": "fixed", "low": 0, "high": 3000}},
            generator="resnet_6blocks",
            ngf=8,
            ndf=8,
            norm="instance",
            dropout=False,
            crop_size=64,
            tile_size=64,
            epochs=2,
            val_fraction=0.34,
            device="cpu",
            samples=1,
            seed=1,
            name="tiny_s1s2",
        ),
    )
    Trainer(cfg, str(tmp / "run")).fit()
    return tmp / "run" / "model.safetensors"


def _with_card(path: Path, out: Path, **changes) -> Path:
    """A copy of a model file with some card fields changed."""
    m = load_model(path)
    save_model(out, m.generator, dataclasses.replace(m.card, **changes))
    return out


@pytest.fixture(scope="module")
def grd_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a card for GRD amplitude DN (scene 99% quantile, like sar2rgb's training SAR)."""
    return _with_card(
        tiny_model,
        tmp_path_factory.mktemp("grd") / "grd.safetensors",
        input_scaling={"name": "sar", "params": {"input": "amplitude", "method": "quantile", "linear": "intensity"}},
    )


def _georef(info: dict) -> tuple:
    """Size, geotransform and CRS as Debian's gdalinfo reports them (CRS compared as a CRS:
    a VRT keeps its source's WKT spelling where a GeoTIFF stores the EPSG code)."""
    return (info["size"], info["geoTransform"], CRS.from_wkt(info["coordinateSystem"]["wkt"]))


def _masks(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.dataset_mask() > 0


# ---------------------------------------------------------------------------
# a trained model on real rasters
# ---------------------------------------------------------------------------
def test_tiny_model_on_landsat_keeps_georeference_and_nodata(tmp_path: Path, tiny_model: Path, runner) -> None:
    out = tmp_path / "rgb.tif"
    ql = tmp_path / "rgb.png"
    res = runner.invoke(
        cli, ["translate", str(RGB), "--model", str(tiny_model), "--bidx", "1", "-o", str(out), "--quicklook", str(ql)]
    )
    assert res.exit_code == 0, res.output
    assert "tiles translated" in res.output
    src_info, out_info = gdalinfo_json(RGB), gdalinfo_json(out)
    assert _georef(out_info) == _georef(src_info)  # Debian's GDAL, not ours, reads both
    assert [b["colorInterpretation"] for b in out_info["bands"]] == ["Red", "Green", "Blue"]
    assert [b["type"] for b in out_info["bands"]] == ["UInt16"] * 3  # the card's output dtype (S2 DN)
    with rasterio.open(RGB) as s:
        valid_in = s.read_masks(1) > 0
    valid_out = _masks(out)
    np.testing.assert_array_equal(valid_out, valid_in)  # nodata where the input band was nodata
    with rasterio.open(out) as o:
        data = o.read()
        tags = o.tags()
        assert o.descriptions == ("B04", "B03", "B02") or all(o.descriptions)
    assert data[:, valid_out].std() > 0  # a real translation, not a constant
    assert tags["GEO2MAP_MODEL"] == "tiny_s1s2"
    assert json.loads(tags["GEO2MAP_TILES"]) == {
        "size": 64,
        "overlap": 16,
        "blend": "cosine",
        "border_pad": 8,  # the scene is reflection-padded by half the overlap
        "blend_margin": 0,  # instance norm: per-tile statistics, no grid independence
        "anchor": 48,  # tiles start on multiples of the stride of the CRS's pixel lattice
    }
    assert ql.stat().st_size > 10_000


def test_gcp_only_grd_is_warped_and_translated(tmp_path: Path, grd_model: Path) -> None:
    out = tmp_path / "grd_rgb.tif"
    res = translate_raster(GRD, out, grd_model, nodata=0, preset="cog")
    with open_raster(GRD, nodata=0) as s:
        valid_in = s.read(rasterio.windows.Window(0, 0, s.width, s.height))[1]
        assert valid_in is not None
        grid = (s.crs, s.transform, s.width, s.height)
        scale = res.input_scaling["params"]["scale"]
        assert scale and scale[0] > 0  # the 99% quantile of the scene, fitted once
    with rasterio.open(out) as o:
        assert (o.crs, o.transform, o.width, o.height) == grid
        assert o.crs.to_epsg() in range(32601, 32761)  # the UTM zone of the scene centre
        assert "GEO2MAP_WARPED_FROM_GCPS" in o.tags()
        assert o.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    np.testing.assert_array_equal(_masks(out), valid_in.all(axis=0))


def test_bf16_is_close_to_fp32(tmp_path: Path, grd_model: Path) -> None:
    a, b = tmp_path / "fp32.tif", tmp_path / "bf16.tif"
    translate_raster(GRD, a, grd_model, nodata=0, precision="fp32")
    translate_raster(GRD, b, grd_model, nodata=0, precision="bf16")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        da, db = x.read().astype(float), y.read().astype(float)
        m = x.dataset_mask() > 0
    diff = np.abs(da - db)[:, m]
    # bf16 keeps 8 bits of mantissa: this tiny model measured about 1.5% of its output range
    assert diff.mean() < 0.03 * (da[:, m].max() - da[:, m].min())


def test_batch_size_and_channels_last_do_not_change_the_result(tmp_path: Path, grd_model: Path) -> None:
    # (a constant, fully saturated tile would be ill-conditioned under instance norm: the GRD has none)
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    translate_raster(GRD, a, grd_model, nodata=0, batch_size=1, channels_last=False, precision="fp32")
    translate_raster(GRD, b, grd_model, nodata=0, batch_size=7, channels_last=True, precision="fp32")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert np.abs(x.read().astype(int) - y.read().astype(int)).max() <= 1


# ---------------------------------------------------------------------------
# seams
# ---------------------------------------------------------------------------
class _PerTileContrast(torch.nn.Module):
    """Instance norm and nothing else: each tile's output depends on that tile's statistics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(0.5 * torch.nn.functional.instance_norm(x)).repeat(1, 3, 1, 1)


def _seams(src: Path, dst: Path, model, size: int, overlap: int, **options) -> dict[str, float]:
    metric = {}
    for blend in ("cosine", "none"):
        translate_raster(src, dst, model, blend=blend, overlap=overlap, overwrite=True, **options)
        with rasterio.open(dst) as o:
            tiles = json.loads(o.tags()["GEO2MAP_TILES"])  # tiles lie on a reflection-padded canvas
            grid, pads = padded_grid(
                o.width, o.height, size, overlap, tiles["border_pad"], o.transform, o.crs, tiles["anchor"]
            )
            metric[blend] = seam_metric(
                o.read().astype(float), grid, o.dataset_mask() > 0, origin=(pads.top, pads.left)
            )
    return metric


@pytest.mark.parametrize("src, options", [(RGB, {"bidx": "1"}), (GRD, {"nodata": 0})], ids=["landsat", "s1-grd"])
def test_cosine_blend_hides_seams_of_a_per_tile_model(tmp_path: Path, grd_model: Path, src: Path, options) -> None:
    card = dataclasses.replace(
        load_model(grd_model).card,
        input_scaling={"name": "optical_u8", "params": {}} if src == RGB else load_model(grd_model).card.input_scaling,
    )
    metric = _seams(src, tmp_path / "out.tif", LoadedModel(card, _PerTileContrast(), "per-tile"), 64, 16, **options)
    # Landsat: 1.006-1.064 as the grid's phase moves across the scene (measured at 7 phases)
    assert metric["cosine"] <= 1.08, metric
    assert metric["none"] >= 1.3, metric  # measured 1.5 (GRD) and 2.0 (Landsat)


def test_cosine_blend_with_a_trained_instance_norm_model(tmp_path: Path, grd_model: Path) -> None:
    metric = _seams(GRD, tmp_path / "out.tif", grd_model, 64, 16, nodata=0)
    assert metric["cosine"] <= 1.05, metric
    assert metric["none"] > metric["cosine"] + 0.1, metric  # measured 0.85 vs 1.05


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def _cli_error(runner, args: list[str]) -> str:
    res = runner.invoke(cli, args)
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    assert "Traceback" not in res.output
    return lines[0]


def test_bad_inputs_give_one_line_errors_and_no_output(tmp_path: Path, tiny_model: Path, runner) -> None:
    out = tmp_path / "out.tif"
    msg = _cli_error(runner, ["translate", str(RGB), "--model", str(tiny_model), "-o", str(out)])
    assert "expects 1 input band (VH)" in msg and "--bidx" in msg
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 64)
    msg = _cli_error(runner, ["translate", str(RGB), "--model", str(bad), "--bidx", "1", "-o", str(out)])
    assert "broken.safetensors" in msg
    msg = _cli_error(runner, ["translate", str(RGB), "--model", "no_such_model", "-o", str(out)])
    assert "identity" in msg  # lists what exists
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    _cli_error(runner, ["translate", str(text), "--model", "identity", "-o", str(out)])
    # an overlap below the card's is the user's call: allowed, with a note (it used to be refused)
    small = tmp_path / "small_overlap.tif"
    res = runner.invoke(
        cli, ["translate", str(RGB), "--model", str(tiny_model), "--bidx", "1", "--overlap", "4", "-o", str(small)]
    )
    assert res.exit_code == 0 and "below the model's recommended 16 px" in res.output, res.output
    _cli_error(
        runner, ["translate", str(RGB), "--model", str(tiny_model), "--bidx", "1", "--tile-size", "66", "-o", str(out)]
    )
    _cli_error(runner, ["translate", str(RGB), "--model", "identity", "--device", "cuda:7", "-o", str(out)])
    assert not out.exists()
    assert list(tmp_path.glob(".*geo2map-tmp*")) == []
    out.write_bytes(b"precious")
    msg = _cli_error(runner, ["translate", str(RGB), "--model", "identity", "-o", str(out)])
    assert "--overwrite" in msg
    assert out.read_bytes() == b"precious"
    with pytest.raises(BandSelectionError):
        translate_raster(RGB, tmp_path / "x.tif", tiny_model)
    # too few bands: nothing to choose, so no --bidx advice
    msg = _cli_error(
        runner, ["translate", str(BEN / "A" / "29SND_56_35.tif"), "--model", "sat2map", "-o", str(tmp_path / "y.tif")]
    )
    assert "expects 3 input bands" in msg and "gives 2" in msg and "--bidx" not in msg, msg
    with pytest.raises(InputError):
        translate_raster(RGB, tmp_path / "x.tif", tiny_model, bidx="1", precision="fp8")


def test_cancel_from_the_progress_callback_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"

    def progress(done: int, total: int) -> None:
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        translate_raster(RGB, out, "identity", tile_size=64, overlap=16, progress=progress)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_signal_during_a_run_leaves_nothing(tmp_path: Path, tiny_model: Path, sig: int) -> None:
    rng = np.random.default_rng(0)
    # big enough to be mid-run when the signal comes (1500 px finished within the 0.5 s wait on CI once)
    scene = write_raster(tmp_path / "scene.tif", (smooth_field(rng, 1, 3000, 3000) * -25).astype("float32"))
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "big.tif"
    proc = subprocess.Popen(
        [geo2map_exe(), "translate", str(scene), "--model", str(tiny_model), "-o", str(out), "-q", "--batch-size", "1"],
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background (bash `cmd &`, CI runners) ignores SIGINT,
        # children inherit that, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not list(outdir.glob(".*geo2map-tmp*")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    time.sleep(0.2)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    expected = 143 if sig == signal.SIGTERM else 130  # 128 + the signal's number
    assert proc.returncode == expected, (err, "SIGINT in the test process:", signal.getsignal(signal.SIGINT))
    assert "interrupted" in err and "Traceback" not in err
    assert os.listdir(outdir) == []


# ---------------------------------------------------------------------------
# real scenes in ../shared/data
# ---------------------------------------------------------------------------
@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present")
def test_real_scenes_from_shared(tmp_path: Path, tiny_model: Path) -> None:
    # a Landsat 8 multiband stack through a VRT (bands of different files, one grid)
    l8 = SHARED / "optical" / "landsat8"
    vrt = tmp_path / "l8.vrt"
    if shutil.which("gdalbuildvrt") is None:
        pytest.skip("gdalbuildvrt (Debian gdal-bin) is not installed")
    bands = [str(l8 / f"l8_B{b}.tif") for b in (4, 3, 2)]
    subprocess.run(["gdalbuildvrt", "-q", "-separate", str(vrt), *bands], check=True)
    cases = [
        (vrt, "identity", {}),
        (vrt, tiny_model, {"bidx": "3"}),
        (SHARED / "dem" / "pysheds_hydrosheds_dem.tif", "identity", {}),
        (SHARED / "paired" / "dsm_cir_tahoe" / "tahoe_lidar_highesthit.tif", tiny_model, {}),
    ]
    for i, (src, model, opts) in enumerate(cases):
        out = tmp_path / f"{i}.tif"
        translate_raster(src, out, model, **opts)
        a, b = gdalinfo_json(src), gdalinfo_json(out)
        assert _georef(a) == _georef(b), src


def test_bands_are_picked_by_name_when_counts_differ(tmp_path: Path, tiny_model: Path) -> None:
    """A dual-pol file with band descriptions VV, VH: a model whose card asks for VH gets band 2."""
    with rasterio.open(BEN / "A" / "29SND_56_35.tif") as ds:
        data, profile = ds.read(), ds.profile
    src = tmp_path / "s1.tif"
    with rasterio.open(src, "w", **profile) as dst:
        dst.write(data)
        dst.set_band_description(1, "VV (dB)")
        dst.set_band_description(2, "vh (dB)")
    auto, explicit = tmp_path / "auto.tif", tmp_path / "explicit.tif"
    translate_raster(src, auto, tiny_model, tile_size=64, precision="fp32")
    translate_raster(src, explicit, tiny_model, bidx="2", tile_size=64, precision="fp32")
    with rasterio.open(auto) as a, rasterio.open(explicit) as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_scene_far_from_the_training_resolution_gets_a_note(tmp_path: Path, grd_model: Path, runner) -> None:
    """sar2rgb-like card trained on 10 m pixels; the bundled GRD subset has about 200 m pixels."""
    m = load_model(grd_model)
    card = dataclasses.replace(m.card, training={**m.card.training, "pixel_size_m": 10.0})
    path = tmp_path / "m10.safetensors"
    save_model(path, m.generator, card)
    res = runner.invoke(
        cli, ["translate", str(GRD), "--model", str(path), "--nodata", "0", "-o", str(tmp_path / "o.tif")]
    )
    assert res.exit_code == 0, res.output
    assert "note: model tiny_s1s2 was trained on 10 m pixels but this scene has 201 m pixels" in res.output
    card = dataclasses.replace(m.card, training={**m.card.training, "pixel_size_m": 201.0})
    result = translate_raster(GRD, tmp_path / "p.tif", LoadedModel(card, m.generator, "x"), nodata=0)
    assert result.notes == []


def test_sar_quicklook_draws_the_input_as_the_model_sees_it(tmp_path: Path, grd_model: Path) -> None:
    """A SAR model's quicklook shows the card-scaled input, [-1, 1] → black..white (a 2-98% linear
    stretch of σ⁰ or DN is black but for a few bright targets)."""
    from geo2map.plots import display_rgb

    ql = tmp_path / "grd.png"
    translate_raster(GRD, tmp_path / "grd.tif", grd_model, nodata=0, quicklook=ql)
    assert ql.stat().st_size > 10_000
    pic = display_rgb(np.array([[[-1.0, 0.0, 1.0, 3.0]]]), limits=(-1.0, 1.0))
    np.testing.assert_allclose(pic[0, :, 0], [0.0, 0.5, 1.0, 1.0])


def test_the_stripe_limit_is_on_the_scene_width_not_the_padded_canvas(tmp_path: Path, grd_model: Path) -> None:
    """A scene as wide as max_stripe_width is mosaicked in one stripe: the border padding and the lattice
    anchor (which widen the canvas) do not split it and run the tiles of a shared column twice."""
    with rasterio.open(RGB) as src:
        width = src.width
    one = translate_raster(RGB, tmp_path / "a.tif", grd_model, bidx="1", max_stripe_width=width, precision="fp32")
    with rasterio.open(tmp_path / "a.tif") as o:
        tiles = json.loads(o.tags()["GEO2MAP_TILES"])
        grid, _ = padded_grid(
            o.width, o.height, tiles["size"], tiles["overlap"], tiles["border_pad"], o.transform, o.crs, tiles["anchor"]
        )
    assert grid.width > width and one.tiles == grid.shape[0] * grid.shape[1]
    two = translate_raster(RGB, tmp_path / "b.tif", grd_model, bidx="1", max_stripe_width=width // 2)
    assert two.tiles > one.tiles  # narrower stripes share tile columns: some tiles run twice
