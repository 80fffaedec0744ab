"""geo2map evaluate and geo2map augment: metrics against library implementations, reports, names, georeference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import GRD, RGB, write_raster
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from geo2map.cli.main import cli
from geo2map.evaluate import evaluate


def _crops() -> tuple[np.ndarray, np.ndarray]:
    """Two different real 128 x 128 RGB crops of the Landsat scene."""
    with rasterio.open(RGB) as ds:
        a = ds.read(window=((300, 428), (300, 428)))
        b = ds.read(window=((340, 468), (420, 548)))
    return a, b


def test_metrics_agree_with_scikit_image_and_torchmetrics(tmp_path: Path, runner) -> None:
    a, b = _crops()
    folder = tmp_path / "pairs"
    folder.mkdir()
    Image.fromarray(np.concatenate([np.moveaxis(a, 0, -1), np.moveaxis(b, 0, -1)], axis=1)).save(folder / "x.png")
    res = runner.invoke(
        cli, ["evaluate", "-m", "identity", "--data", str(folder), "--split", "all", "-o", str(tmp_path / "rep"), "-q"]
    )
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    m = rep["metrics"]
    af, bf = a.astype(float), b.astype(float)  # identity: the output is A
    assert m["rmse"] == pytest.approx(np.sqrt(((af - bf) ** 2).mean()), rel=1e-6)
    assert m["mae"] == pytest.approx(np.abs(af - bf).mean(), rel=1e-6)
    assert m["psnr"] == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255), rel=1e-6)
    tm = structural_similarity_index_measure(torch.from_numpy(af[None]), torch.from_numpy(bf[None]), data_range=255.0)
    assert m["ssim"] == pytest.approx(float(tm), rel=1e-6)
    sk = structural_similarity(
        bf, af, data_range=255, channel_axis=0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert m["ssim"] == pytest.approx(sk, abs=0.02)  # the same definition; borders are handled differently
    mx = np.abs(af - bf).max(axis=0)
    assert m["acc_delta5"] == pytest.approx((mx < 5).mean()) and m["acc_delta10"] == pytest.approx((mx < 10).mean())
    assert (tmp_path / "rep" / "samples.png").stat().st_size > 5000


def test_georeferenced_pair_writes_an_error_map_on_the_grid(tmp_path: Path) -> None:
    with rasterio.open(RGB) as ds:
        data = ds.read()
        profile = ds.profile
    rng = np.random.default_rng(0)
    noisy = np.clip(data.astype(int) + rng.integers(-6, 7, data.shape), 1, 255).astype("uint8")
    noisy[data == 0] = 0
    target = write_raster(tmp_path / "target.tif", noisy, nodata=0, crs=profile["crs"], transform=profile["transform"])
    rep = evaluate("identity", str(RGB), str(tmp_path / "rep"), pair=str(target))
    with rasterio.open(RGB) as s, rasterio.open(rep.error_map) as e:
        assert (e.crs, e.transform, e.width, e.height) == (s.crs, s.transform, s.width, s.height)
        err = e.read(1)
    valid = (data != 0).all(axis=0) & (noisy != 0).all(axis=0)  # a pixel counts when every band is valid
    np.testing.assert_allclose(err[valid], np.abs(noisy.astype(float) - data).max(axis=0)[valid])
    assert np.isnan(err[~valid]).all()
    d = (noisy.astype(float) - data)[:, valid]
    assert rep.metrics["rmse"] == pytest.approx(np.sqrt((d**2).mean()))
    assert rep.metrics["acc_delta10"] == 1.0 and rep.metrics["acc_delta5"] < 1.0


def test_augment_keeps_names_formats_and_georeference(tmp_path: Path, runner) -> None:
    src = tmp_path / "library"
    (src / "sub").mkdir(parents=True)
    a, b = _crops()
    Image.fromarray(np.moveaxis(a, 0, -1)).save(src / "photo.png")
    Image.fromarray(np.moveaxis(b, 0, -1)).save(src / "sub" / "photo2.jpg")
    (src / "scene.tif").write_bytes(RGB.read_bytes())
    (src / "sub" / "grd.tif").write_bytes(GRD.read_bytes())
    out = tmp_path / "augmented"
    res = runner.invoke(cli, ["augment", "-m", "identity", str(src), str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "photo.png",
        "scene.tif",
        "sub/grd.tif",
        "sub/photo2.jpg",
    ]
    assert np.array_equal(np.asarray(Image.open(out / "photo.png")), np.moveaxis(a, 0, -1))  # identity, lossless
    with rasterio.open(RGB) as s, rasterio.open(out / "scene.tif") as o:
        assert (o.crs, o.transform, o.shape) == (s.crs, s.transform, s.shape)
    with rasterio.open(out / "sub" / "grd.tif") as o:  # GCP-only SAR: warped onto UTM
        assert o.crs.to_epsg() in range(32601, 32761)
    res = runner.invoke(cli, ["augment", "-m", "identity", str(src), str(out), "-q"])
    assert res.exit_code == 1 and "--overwrite" in res.output  # existing outputs are kept
