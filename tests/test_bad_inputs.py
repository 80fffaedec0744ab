"""Bad inputs get one clear line and exit 1, never a traceback, a silently ignored option or a broken file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import RGB, save_tiny_model, write_raster

from geo2map.cli.main import cli
from geo2map.errors import ModelError
from geo2map.models.package import load_model, read_card, save_model


def _fails(runner, args: list, match: str, output: Path | None = None) -> str:
    res = runner.invoke(cli, [str(a) for a in args])
    assert res.exit_code == 1, res.output
    assert match in res.output and "Traceback" not in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    if output is not None:
        assert not output.exists()
    return res.output


@pytest.mark.parametrize(
    "co,match",
    [("COMPRESS=NOPE", "COMPRESS=NOPE"), ("FOO=BAR", "FOO"), ("ZLEVEL=99", "ZLEVEL=99")],
)
def test_creation_option_typos_are_errors(runner, tmp_path: Path, co: str, match: str) -> None:
    out = tmp_path / "o.tif"
    _fails(runner, ["translate", RGB, "-m", "identity", "-o", out, "--co", co], match, out)
    res = runner.invoke(cli, ["translate", str(RGB), "-m", "identity", "-o", str(out), "--co", "ZLEVEL=9", "-q"])
    assert res.exit_code == 0, res.output


def test_an_output_name_of_another_format_is_refused(runner, tmp_path: Path) -> None:
    for name in ("o.png", "o.jpg"):
        _fails(runner, ["translate", RGB, "-m", "identity", "-o", tmp_path / name], "writes GeoTIFF", tmp_path / name)


def test_models_with_broken_weights_or_cards_are_refused(tmp_path: Path, runner) -> None:
    good = save_tiny_model(tmp_path / "good.safetensors", "tiny", {"name": "optical_u8", "params": {}})
    loaded = load_model(good)
    net, card = loaded.generator, loaded.card
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    nan = save_model(tmp_path / "nan.safetensors", net, card)
    with pytest.raises(ModelError, match="NaN"):
        load_model(nan)
    _fails(runner, ["translate", RGB, "-m", nan, "--bidx", "1", "-o", tmp_path / "x.tif"], "NaN", tmp_path / "x.tif")
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(good))
    for change, match in (
        ({"ngf": 32}, "another shape"),
        ({"ngf": 16.5}, "whole number"),
        ({"ngf": -4}, "whole number"),
        ({"ngf": 10**9}, "whole number"),
        ({"in_bands": "two"}, "whole number"),
    ):
        d = card.to_dict()
        d["architecture"].update(change)
        bad = tmp_path / "bad.safetensors"
        save_file(weights, str(bad), metadata={"geo2map_card": json.dumps(d)})
        with pytest.raises(ModelError, match=match):
            load_model(bad)
    d = card.to_dict()
    d["output_dtype"] = "banana"
    save_file(weights, str(tmp_path / "banana.safetensors"), metadata={"geo2map_card": json.dumps(d)})
    with pytest.raises(ModelError, match="output_dtype"):
        read_card(tmp_path / "banana.safetensors")


def test_devices_stac_folders_and_names(runner, tmp_path: Path) -> None:
    _fails(runner, ["translate", RGB, "-m", "sat2map", "--device", "mps", "-o", tmp_path / "x.tif"], "MPS")
    items = tmp_path / "items.json"
    items.write_text('{"type": "Feature"}')
    _fails(runner, ["batch", items, "-m", "identity", "-o", tmp_path / "b"], "not a valid STAC document")
    _fails(runner, ["translate", RGB, "-m", tmp_path, "-o", tmp_path / "x.tif"], "is a folder")
    assert read_card("sar2rgb").name == "sar2rgb"  # the library takes built-in names, like the CLI
    assert load_model("sat2map").card.name == "sat2map"


def test_an_all_nodata_input_says_so(runner, tmp_path: Path) -> None:
    src = write_raster(tmp_path / "nd.tif", np.zeros((3, 300, 300), "uint8"), nodata=0)
    out = tmp_path / "o.tif"
    _fails(runner, ["translate", src, "-m", "sat2map", "-o", out], "has no valid pixel", out)
    _fails(runner, ["evaluate", "-m", "sat2map", "--data", src, "--pair", src, "-o", tmp_path / "ev"], "no valid pixel")
    res = runner.invoke(cli, ["translate", str(src), "-m", "identity", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output  # identity copies nodata as nodata


def test_rows_after_a_gap_taller_than_a_tile_are_written(tmp_path: Path) -> None:
    """The mosaicker finalises rows a buffer at a time: empty tile rows (skipped) leave nodata, not a
    truncated output (it used to stop after the first buffer's rows)."""
    from geo2map.mosaic.stream import remosaic_raster

    data = np.zeros((1, 1000, 300), "uint8")
    data[:, 900:] = 7
    src = write_raster(tmp_path / "gap.tif", data, nodata=0)
    out = remosaic_raster(src, tmp_path / "o.tif", size=128, overlap=32)
    import rasterio

    with rasterio.open(out) as ds:
        got = ds.read(1)
    assert (got[900:] == 7).all() and (got[:900] == 0).all()


def test_a_vv_scene_into_a_vh_model_gets_a_note(tmp_path: Path) -> None:
    from geo2map.translate import translate_raster

    rng = np.random.default_rng(0)
    vv = write_raster(tmp_path / "s1.tif", rng.gamma(1, 0.05, (1, 300, 300)).astype("float32"))
    import rasterio

    with rasterio.open(vv, "r+") as ds:
        ds.set_band_description(1, "VV")
    res = translate_raster(vv, tmp_path / "o.tif", "sar2rgb")
    assert any("trained on VH only" in n and "VV" in n for n in res.notes), res.notes
    named = write_raster(tmp_path / "s1a-iw-grd-vv-20200101.tif", rng.gamma(1, 0.05, (1, 300, 300)).astype("float32"))
    res = translate_raster(named, tmp_path / "o2.tif", "sar2rgb")
    assert any("VV" in n for n in res.notes)  # from the file name (Sentinel-1 SAFE measurement files)
    vh = write_raster(tmp_path / "s1a-iw-grd-vh-20200101.tif", rng.gamma(1, 0.05, (1, 300, 300)).astype("float32"))
    assert not translate_raster(vh, tmp_path / "o3.tif", "sar2rgb").notes


def test_output_options_and_a_small_overlap(runner, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t"), "-q"]).exit_code == 0
    res = runner.invoke(cli, ["mosaic", str(tmp_path / "t"), "-o", str(tmp_path / "m.tif"), "-q"])
    assert res.exit_code == 0 and (tmp_path / "m.tif").exists(), res.output
    res = runner.invoke(cli, ["mosaic", str(tmp_path / "t"), str(tmp_path / "m2.tif"), "-q"])  # the old form
    assert res.exit_code == 0 and (tmp_path / "m2.tif").exists(), res.output
    res = runner.invoke(cli, ["mosaic", str(tmp_path / "t")])
    assert res.exit_code == 2 and "missing the output" in res.output
    res = runner.invoke(cli, ["translate", str(RGB), "-m", "sat2map", "--overlap", "16", "-o", str(tmp_path / "s.tif")])
    assert res.exit_code == 0 and "below the model's recommended" in res.output, res.output


def test_an_unknown_dst_crs_is_one_line_and_an_ignored_one_a_note(runner, tmp_path: Path) -> None:
    import subprocess

    from conftest import GRD, geo2map_exe

    out = tmp_path / "o.tif"
    proc = subprocess.run(
        [geo2map_exe(), "translate", str(GRD), "-m", "identity", "-o", str(out), "--dst-crs", "EPSG:999999"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and not out.exists()
    assert proc.stderr.strip().splitlines() == [
        "Error: --dst-crs 'EPSG:999999' is not a CRS GDAL understands (try an EPSG code, e.g. EPSG:32633)"
    ], proc.stderr  # no "ERROR 1: PROJ: ..." line from GDAL before it
    res = runner.invoke(cli, ["translate", str(RGB), "-m", "identity", "-o", str(out), "--dst-crs", "EPSG:4326"])
    assert res.exit_code == 0 and "applies to GCP-only rasters" in res.output, res.output


def test_a_truncated_input_names_the_file_and_what_gdal_said(runner, tmp_path: Path) -> None:
    from rasterio.shutil import copy

    copy(RGB, tmp_path / "cog.tif", driver="COG")  # the COG layout: headers first, so the file opens
    data = (tmp_path / "cog.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) * 6 // 10])
    out = _fails(runner, ["translate", tmp_path / "cut.tif", "-m", "identity", "-o", tmp_path / "o.tif"], "cut.tif")
    assert "previous exception" not in out and "IReadBlock" in out, out


def test_models_import_of_a_pickle_does_not_suggest_turning_safety_off(runner, tmp_path: Path) -> None:
    import os
    import pickle

    (tmp_path / "p.pt").write_bytes(pickle.dumps({"run": os.system}, protocol=4))
    out = _fails(
        runner, ["models", "import", tmp_path / "p.pt", "--arch", "unet_256", "-o", tmp_path / "m.safetensors"], ""
    )
    assert "not a file of weights only" in out and "never unpickles" in out and "weights_only" not in out, out


def test_mosaic_of_a_tile_of_the_wrong_size_names_the_tile(runner, tmp_path: Path) -> None:
    import rasterio

    assert runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t"), "-q"]).exit_code == 0
    tile = tmp_path / "t" / "r0000_c0001.tif"
    with rasterio.open(tile) as ds:
        profile, data = ds.profile, ds.read()
    profile.update(width=100, height=100)
    with rasterio.open(tile, "w", **profile) as ds:
        ds.write(data[:, :100, :100])
    out = tmp_path / "m.tif"
    _fails(runner, ["mosaic", tmp_path / "t", "-o", out, "-q"], "r0000_c0001.tif is 100x100 px", out)


def test_a_failing_evaluation_leaves_nothing_behind(runner, tmp_path: Path) -> None:
    from conftest import DATA

    out = tmp_path / "ev"
    _fails(
        runner,
        ["evaluate", "-m", "sat2map", "--data", RGB, "--pair", DATA / "s1_vh_sen12_059.tif", "-o", out, "-q"],
        "the target",
    )
    assert not out.exists()  # no prediction.tif that looks like a result
    (tmp_path / "text.tif").write_text("not a raster")
    _fails(runner, ["evaluate", "-m", "sat2map", "--data", tmp_path / "text.tif", "-o", out], "is not a raster")


def test_remosaic_with_an_identity_function_gives_the_input_back(tmp_path: Path) -> None:
    """RGB.byte.tif has per-band nodata 0: 710 pixels where only one band is 0 used to come back 0,0,0."""
    import rasterio

    from geo2map.mosaic.stream import remosaic_raster

    out = remosaic_raster(RGB, tmp_path / "o.tif", fn=lambda x: x)
    with rasterio.open(RGB) as a, rasterio.open(out) as b:
        assert (a.read() == b.read()).all()


def test_every_command_takes_dash_o(runner, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["tile", str(RGB), "-o", str(tmp_path / "t"), "-q"]).exit_code == 0
    assert runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t2"), "-q"]).exit_code == 0  # the old form
    res = runner.invoke(cli, ["augment", "-m", "identity", str(tmp_path / "t"), "-o", str(tmp_path / "a"), "-q"])
    assert res.exit_code == 0 and (tmp_path / "a" / "r0000_c0000.tif").exists(), res.output
    res = runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t3"), "-o", str(tmp_path / "t4")])
    assert res.exit_code == 2 and "give the output once" in res.output
    for command in ("translate", "mosaic", "batch", "train", "evaluate", "tile", "augment"):
        help_text = runner.invoke(cli, [command, "--help"]).output
        assert "-o, --" in help_text and "--output" in help_text, command
