"""Speed work must not change results: translations equal those made before it (golden outputs).

``tests/data/golden_translations.npz`` holds translations of the bundled SEN12 VH scene by two
tiny random-weight models (seeded, built below), made by geo2map 7b12602^ (before the pipeline
speed work) and remade once since, when tiles were anchored to the CRS's pixel lattice (a
deliberate change of the tile grid; ``python tests/test_golden.py`` remakes them): a ResNet with
instance norm (half-tile overlap, SAR dB scaling, seams blended) and
a bounded U-Net-32 with reflection padding (border padding, blend margins, quantile scaling).
Arithmetic order may change a rounding, so at most 1 level and 0.1 % of pixels may differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import DATA, save_tiny_model

torch = pytest.importorskip("torch")

SCENE = DATA / "s1_vh_sen12_059.tif"
GOLDEN = DATA / "golden_translations.npz"


def _bounded_model(path: Path) -> Path:
    from geo2map.models.card import Architecture, Band, ModelCard
    from geo2map.models.networks import build_generator
    from geo2map.models.package import save_model

    torch.manual_seed(1)
    net = build_generator("unet_32", 1, 3, ngf=4, norm="batch", dropout=False, upsample="resize", padding="reflect")
    scaling = {
        "name": "sar",
        "params": {"input": "auto", "method": "quantile", "linear": "amplitude", "quantile": 0.99},
    }
    card = ModelCard(
        name="golden_bounded",
        task="pix2pix",
        architecture=Architecture("unet_32", 1, 3, 4, "batch", False, upsample="resize", padding="reflect"),
        input_scaling=scaling,
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band("VH")],
        output_bands=[Band("red"), Band("green"), Band("blue")],
        output_colorinterp=["red", "green", "blue"],
        tile_size=256,
        overlap=160,
    )
    save_model(path, net, card)
    return path


def _close(got: np.ndarray, want: np.ndarray) -> None:
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, f"differs by up to {diff.max()} levels"
    assert (diff > 0).mean() <= 0.001, f"{100 * (diff > 0).mean():.3f} % of pixels differ"


def _translate(tmp_path: Path, kind: str) -> np.ndarray:
    from geo2map.translate import translate_raster

    if kind == "resnet":
        model = save_tiny_model(
            tmp_path / "m.safetensors", "golden_tiny", {"name": "sar", "params": {"input": "auto", "method": "db"}}
        )
    else:
        model = _bounded_model(tmp_path / "m.safetensors")
    out = tmp_path / f"{kind}.tif"
    translate_raster(SCENE, out, str(model), device="cpu", precision="fp32")
    with rasterio.open(out) as ds:
        return ds.read()


@pytest.mark.parametrize("kind", ["resnet", "bounded"])
def test_translations_equal_the_golden_outputs(tmp_path: Path, kind: str) -> None:
    got = _translate(tmp_path, kind)
    golden = np.load(GOLDEN)
    if kind == "bounded":
        _close(got, golden["bounded"])
    else:
        _close(got[:, :384, :384], golden["resnet_top_left"])
        _close(got[:, 640:, 640:], golden["resnet_bottom_right"])


if __name__ == "__main__":  # remake the golden outputs (only for a deliberate change of results)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bounded, resnet = _translate(Path(tmp), "bounded"), _translate(Path(tmp), "resnet")
    np.savez_compressed(
        GOLDEN, bounded=bounded, resnet_top_left=resnet[:, :384, :384], resnet_bottom_right=resnet[:, 640:, 640:]
    )
