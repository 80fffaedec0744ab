"""What the user reads: CLI wording of library messages, progress, band names, models info."""

from __future__ import annotations

import subprocess
from pathlib import Path

import rasterio
from conftest import DATA, RGB, geo2map_exe

from geo2map.cli.main import cli
from geo2map.cli.options import cli_words
from geo2map.translate import translate_raster


def test_library_messages_name_parameters_and_the_cli_names_flags(runner, tmp_path: Path) -> None:
    assert (
        cli_words("output x exists; pass overwrite=True to replace it")
        == "output x exists; pass --overwrite to replace it"
    )
    assert cli_words("choose them, e.g. bidx=1") == "choose them, e.g. --bidx 1"
    assert cli_words("use another out_dir=FOLDER or resume=False") == "use another --out FOLDER or --no-resume"
    from geo2map.errors import OutputExistsError

    out = tmp_path / "o.tif"
    out.write_bytes(b"")
    try:
        translate_raster(RGB, out, "identity")
    except OutputExistsError as exc:
        assert "overwrite=True" in str(exc) and "--" not in str(exc)  # the library speaks of its parameters
    res = runner.invoke(cli, ["translate", str(RGB), "-m", "identity", "-o", str(out)])
    assert res.exit_code == 1 and "pass --overwrite" in res.output


def test_progress_reports_each_count_once(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    translate_raster(RGB, tmp_path / "o.tif", "identity", progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and done[-1] == calls[-1][1]  # the final count once, not three times


def test_no_progress_bar_in_a_log(runner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["translate", str(RGB), "-m", "sat2map", "-o", str(tmp_path / "o.tif")])
    assert res.exit_code == 0 and "\r" not in res.output and "tile/s" not in res.output, res.output


def test_output_bands_carry_the_card_names_and_colours(tmp_path: Path) -> None:
    from conftest import DATA

    for preset in ("deflate", "cog"):
        out = tmp_path / f"{preset}.tif"
        translate_raster(DATA / "tahoe" / "tahoe_lidar_highesthit.tif", out, "dsm2rgb", preset=preset)
        with rasterio.open(out) as ds:
            assert ds.descriptions == ("NIR", "R", "G")  # as models info names them
            assert [c.name for c in ds.colorinterp] == ["nir", "red", "green"]


def test_models_info_prints_the_training_record_one_item_a_line(runner) -> None:
    res = runner.invoke(cli, ["models", "info", "sat2map"])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert "  training" in lines and any(line.strip().startswith("batch_size") for line in lines)
    training = lines[lines.index("  training") : lines.index("  metrics")]
    assert max(len(line) for line in training) <= 120  # not one long JSON line


def test_a_masked_non_rgb_output_writes_without_gdal_errors(tmp_path: Path) -> None:
    """dsm2rgb's NIR-R-G output of a masked DSM, GeoTIFF and COG: GDAL's compression threads
    printed 'ERROR 1: ... Bad value 2 for "ExtraSamples" tag' on fd 2 for the internal mask,
    with band interleave and, once GDAL had a real block cache, with pixel interleave too."""
    src = tmp_path / "dsm.tif"
    with rasterio.open(DATA / "tahoe" / "tahoe_lidar_highesthit.tif") as ds:  # 400², 2000² here: 25 blocks
        dsm = ds.read(out_shape=(1, 2000, 2000))
        profile = {**ds.profile, "width": 2000, "height": 2000, "transform": ds.transform * ds.transform.scale(1 / 5)}
    with rasterio.open(src, "w", **profile) as ds:
        ds.write(dsm)
    out = tmp_path / "o.tif"
    for fmt in ("deflate", "cog") * 2:  # it came on most runs, not all
        r = subprocess.run(
            [
                geo2map_exe(),
                "translate",
                str(src),
                "-m",
                "dsm2rgb",
                "-o",
                str(out),
                "--overwrite",
                "-q",
                "--format",
                fmt,
            ],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0 and "ERROR" not in r.stderr, r.stderr
    with rasterio.open(out) as ds:
        assert ds.colorinterp[0].name == "nir" and ds.mask_flag_enums[0][0].name == "per_dataset"


def test_an_ungeoreferenced_translation_asked_for_warns_of_nothing(tmp_path: Path) -> None:
    """Library callers (evaluate, augment on plain images) get no NotGeoreferencedWarning per file."""
    import warnings

    import numpy as np

    src = tmp_path / "plain.tif"
    profile = {"driver": "GTiff", "width": 64, "height": 48, "count": 3, "dtype": "uint8"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(src, "w", **profile) as ds:
            ds.write(np.random.default_rng(0).integers(0, 255, (3, 48, 64), dtype=np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        translate_raster(src, tmp_path / "out.tif", "identity", allow_ungeoreferenced=True)
    assert not [w for w in caught if issubclass(w.category, rasterio.errors.NotGeoreferencedWarning)], caught
