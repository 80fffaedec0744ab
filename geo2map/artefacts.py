"""Artefact metrics: what a person sees in a translation besides its accuracy.

* :func:`checker_ratio`: the checkerboard of stride-2 transposed convolutions, as
  spectral peaks at periods of 2, 4 and 8 px. For each band, rows and columns are
  Hann-windowed with their mean removed, and their power spectra are averaged. At
  each of the three periods, in each of the two directions, the power in that
  frequency bin is divided by the median power of the neighbouring bins (3 to 6
  bins away, beyond the Hann window's main lobe). The worst of the six is the
  band's score, and the median over bands is the image's. Natural images score
  about 1; a decoder checkerboard scores far more.
* :func:`crop_consistency`: translate a crop of a scene on its own and compare it
  with the same pixels of the whole-scene translation: the mean absolute
  difference in the crop's outer ``ring`` px and inside them, in 8-bit levels. A
  model whose output does not depend on where the tile grid or the scene border
  falls scores ~0 on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geo2map.models.package import ModelRef

PERIODS = (2, 4, 8)
RING = 16


def _spectrum(img: np.ndarray) -> np.ndarray:
    """Mean power spectrum of the rows of a 2-D array (Hann window, row means removed)."""
    x = img - img.mean(axis=1, keepdims=True)
    x = x * np.hanning(img.shape[1])[None, :]
    return (np.abs(np.fft.rfft(x, axis=1)) ** 2).mean(axis=0)  # type: ignore[no-any-return]


def _peak_ratio(power: np.ndarray, n: int, period: int) -> float:
    k = int(round(n / period))
    near = [j for d in range(3, 7) for j in (k - d, k + d) if 0 < j < len(power)]
    if k >= len(power) or not near:
        return float("nan")
    ref = float(np.median(power[near]))
    return float(power[k] / ref) if ref > 0 else (1.0 if power[k] == 0 else float("inf"))


def checker_ratio(image: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The checker score of a ``(bands, h, w)`` (or ``(h, w)``) image; see the module docstring.

    Invalid pixels (``valid`` False, or NaN) are set to the band's valid mean first.
    Images smaller than 32 px along an axis give NaN for that axis.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[None]
    scores = []
    for b in range(img.shape[0]):
        band = img[b].copy()
        ok = np.isfinite(band) if valid is None else (np.broadcast_to(valid, img.shape)[b] & np.isfinite(band))
        if not ok.any():
            continue
        band[~ok] = band[ok].mean()
        ratios = []
        for arr in (band, band.T):
            if arr.shape[1] >= 32:
                power = _spectrum(arr)
                ratios += [_peak_ratio(power, arr.shape[1], p) for p in PERIODS]
        ratios = [r for r in ratios if np.isfinite(r)]
        if ratios:
            scores.append(max(ratios))
    return float(np.median(scores)) if scores else float("nan")


def ring_inner(diff: np.ndarray, ring: int = RING) -> dict[str, float]:
    """Mean of ``|diff|`` (bands, h, w; NaN ignored) in the outer ``ring`` px and inside them."""
    d = np.abs(np.asarray(diff, dtype=np.float64))
    inner = np.zeros(d.shape[-2:], bool)
    inner[ring:-ring, ring:-ring] = True
    ring_vals = d[..., ~inner]
    inner_vals = d[..., inner]
    return {
        "ring": float(np.nanmean(ring_vals)) if np.isfinite(ring_vals).any() else float("nan"),
        "inner": float(np.nanmean(inner_vals)) if np.isfinite(inner_vals).any() else float("nan"),
    }


def crop_window(height: int, width: int, max_size: int = 600) -> tuple[int, int, int, int]:
    """``(row, col, h, w)`` of the crop :func:`crop_consistency` uses by default.

    Centred, at most ``max_size`` px and at most 5/8 of the scene along each axis, and
    at an offset that is no multiple of 2, 4 or 8 (where the tile grid falls must not
    line up by luck with the networks' strides).
    """
    h = min(max_size, (height * 5) // 8)
    w = min(max_size, (width * 5) // 8)
    r = (height - h) // 2 | 1
    c = (width - w) // 2 | 1
    return r, c, h, w


def crop_consistency(
    translate: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    whole: np.ndarray | None = None,
    window: tuple[int, int, int, int] | None = None,
    levels: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """``{"ring", "inner"}``: a crop of ``image`` translated alone against the whole translation.

    Args:
        translate: ``(bands, h, w)`` input → output (the full pipeline, e.g.
            :func:`geo2map.evaluate.translate_image`).
        image: The scene, ``(bands, h, w)``.
        whole: Its translation, if already made.
        window: ``(row, col, h, w)``; default :func:`crop_window`.
        levels: Output values → 8-bit levels (default: as they are).
    """
    if whole is None:
        whole = translate(image)
    r, c, h, w = window or crop_window(image.shape[1], image.shape[2])
    alone = translate(np.ascontiguousarray(image[:, r : r + h, c : c + w]))
    same = whole[:, r : r + h, c : c + w]
    to = levels or (lambda x: np.asarray(x, dtype=np.float64))
    return ring_inner(to(alone) - to(same))


def summarise(per_pair: list[dict[str, Any]]) -> dict[str, float]:
    """The report's artefact metrics from per-pair values: median checker, mean crop ring and inner."""
    out: dict[str, float] = {}
    checker = [p["checker"] for p in per_pair if np.isfinite(p.get("checker", np.nan))]
    if checker:
        out["checker"] = float(np.median(checker))
    for key in ("crop_ring", "crop_inner"):
        vals = [p[key] for p in per_pair if key in p and np.isfinite(p[key])]
        if vals:
            out[key] = float(np.mean(vals))
    return out


def raster_artefacts(
    src: str, prediction: str, model: ModelRef, work: str, levels: Callable[[np.ndarray], np.ndarray], **options: Any
) -> dict[str, float]:
    """Checker (on the centre 1024 px of ``prediction``) and crop consistency of a raster scene.

    The crop (:func:`crop_window` of the scene) is cut from ``src`` into a GeoTIFF with
    its own georeference and translated alone with ``options``, as a user would.
    """
    import os

    import rasterio
    from rasterio.windows import Window

    with rasterio.open(prediction) as p:
        h, w = min(p.height, 1024), min(p.width, 1024)
        win = Window((p.width - w) // 2, (p.height - h) // 2, w, h)
        out = {"checker": checker_ratio(levels(p.read(window=win)), p.read_masks(window=win) > 0)}
        r, c, ch, cw = crop_window(p.height, p.width)
        crop = Window(c, r, cw, ch)
        same = p.read(window=crop)
    from geo2map.translate import translate_raster

    cut = os.path.join(work, "crop.tif")
    with rasterio.open(src) as s:
        if s.crs is None or (s.height, s.width) != (p.height, p.width):
            return out  # GCP-only or warped: a crop of the file is not a crop of the prediction's grid
        profile = {**s.profile, "width": cw, "height": ch, "transform": s.window_transform(crop)}
        profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
        with rasterio.open(cut, "w", **profile) as d:
            d.write(s.read(window=crop))
            d.write_mask(s.dataset_mask(window=crop))
            for i, desc in enumerate(s.descriptions, 1):
                if desc:
                    d.set_band_description(i, desc)
    alone_path = os.path.join(work, "crop_out.tif")
    translate_raster(cut, alone_path, model, overwrite=True, **options)
    with rasterio.open(alone_path) as a:
        alone = a.read()
    diff = levels(alone) - levels(same)
    ri = ring_inner(diff)
    out["crop_ring"], out["crop_inner"] = ri["ring"], ri["inner"]
    return out
