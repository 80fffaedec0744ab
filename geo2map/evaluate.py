"""Evaluate a model on paired data: the library behind ``geo2map evaluate``.

Every input goes through exactly the pipeline users run (:func:`translate_raster`:
the card's scaling with the input's own statistics, tiling, blending), and the
output is compared with the target.

Metrics are computed on the card's output scale mapped to 8-bit levels
(``u = (output_scaling.forward(x) + 1) / 2 * 255``; for 8-bit targets these are
the pixel values themselves):

* ``rmse``, ``mae``: over all valid pixels and bands of all pairs (pixel-weighted);
* ``psnr``: mean over pairs of ``10 log10(255² / MSE)`` (scikit-image's definition);
* ``ssim``: mean over pairs of torchmetrics' SSIM (Gaussian window 11, σ 1.5,
  ``data_range`` 255, all bands), computed window by window on large rasters;
* ``acc_delta5``, ``acc_delta10``: the share of valid pixels whose largest channel
  difference is below 5 (10) levels — the pix2pix maps criterion;
* artefacts (:mod:`geo2map.artefacts`): ``checker`` (median over pairs of the
  checker ratio of the output; natural images score about 1), ``crop_ring`` and
  ``crop_inner`` (a crop translated alone against the same pixels of the whole
  translation, mean over the first ``crop_pairs`` pairs, 8-bit levels).

Pairs: A/B folders (``val``/``test`` split when present, ``--split`` to choose),
a folder of A|B images, or a GeoTIFF pair (the target warped onto the input's grid
when the grids differ; an error-map GeoTIFF is written on that grid).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map import artefacts
from geo2map.errors import InputError
from geo2map.image_io import translate_image
from geo2map.metrics import Accumulator, psnr_levels, to_levels
from geo2map.models.registry import IDENTITY

if TYPE_CHECKING:
    from geo2map.models.package import LoadedModel, ModelRef
    from geo2map.sensors import Scaling

WINDOW = 1024


@dataclass
class EvalReport:
    """The metrics of an evaluation (``report.json``), per pair and aggregated."""

    model: str
    data: str
    pairs: int
    metrics: dict[str, float]
    per_pair: list[dict[str, Any]]
    report: str
    samples: str | None
    error_map: str | None = None


# ---------------------------------------------------------------------------
# pairs
# ---------------------------------------------------------------------------
def _pairs(data: str, split: str, val_fraction: float, seed: int) -> tuple[str, list[Any]]:
    """("ab", [(a_path, b_path)...]) or ("sbs", [path...]) for the requested split.

    ``auto``: the ``val`` split, else ``test``, else the hold-out ``geo2map train``
    made from the training files (``val_fraction``, ``seed``: its defaults 0.1, 0).
    ``holdout``: that hold-out explicitly; ``train``, ``val``, ``test``: those
    folders; ``all``: every training (or top-level) file.
    """
    from geo2map.image_io import list_images
    from geo2map.train.data import holdout_split, match_pairs

    def ab(prefix: str) -> list[tuple[str, str]] | None:
        fa, fb = os.path.join(data, prefix + "A"), os.path.join(data, prefix + "B")
        if not (os.path.isdir(fa) and os.path.isdir(fb)):
            return None
        return match_pairs(list_images(fa), list_images(fb))

    def sbs(sub: str) -> list[str] | None:
        folder = os.path.join(data, sub) if sub else data
        files = list_images(folder) if os.path.isdir(folder) else []
        return files or None

    for kind, get in (("ab", ab), ("sbs", sbs)):
        base = get("train") or get("")
        if split in ("val", "test", "train"):
            found = get(split)
            if found:
                return kind, found
            if split == "val" and base:
                return kind, holdout_split(base, val_fraction, seed)[1]
            continue
        if split == "auto":
            found = get("val") or get("test")
            if found:
                return kind, found
        if base and split in ("auto", "holdout"):
            return kind, holdout_split(base, val_fraction, seed)[1]
        if base and split == "all":
            return kind, base
    raise InputError(f"{data}: no {split!r} pairs (expected trainA/trainB, valA/valB, A/B folders or A|B images)")


def iter_image_pairs(
    data: str,
    direction: str = "AtoB",
    split: str = "auto",
    max_pairs: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, A, B)`` arrays from A/B folders or A|B images (see :func:`_pairs` for ``split``)."""
    from geo2map.image_io import read_image

    kind, items = _pairs(data, split, val_fraction, seed)
    for item in items[:max_pairs] if max_pairs else items:
        if kind == "ab":
            a, b = read_image(item[0]), read_image(item[1])
            name = os.path.basename(item[0])
        else:
            img = read_image(item)
            w = img.shape[2] // 2
            a, b = img[:, :, :w], img[:, :, w : 2 * w]
            name = os.path.basename(item)
        if direction == "BtoA":
            a, b = b, a
        yield name, a, b


# ---------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------
def evaluate(
    model: ModelRef,
    data: str,
    out_dir: str,
    *,
    pair: str | None = None,
    pair_bidx: str | Sequence[int] | None = None,
    direction: str = "AtoB",
    split: str = "auto",
    max_pairs: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    samples: int = 6,
    crop_pairs: int = 8,
    progress: Callable[[int, int | None], None] | None = None,
    **translate_options: Any,
) -> EvalReport:
    """Evaluate ``model`` on ``data`` and write ``report.json``, ``samples.png`` (and ``error.tif``).

    ``crop_pairs``: how many pairs (the first) also get the crop-consistency test, which
    translates a crop of each once more. A failed evaluation leaves nothing in ``out_dir``.
    """
    from geo2map.raster.safety import removed_on_error
    from geo2map.sensors import scaling_from_dict

    loaded = _loaded(model)
    model_arg: Any = IDENTITY if loaded.card.task == "identity" else loaded
    out_scaling = scaling_from_dict(loaded.card.output_scaling)
    acc = Accumulator()
    per_pair: list[dict[str, Any]] = []
    shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    error_map = None
    if not pair and os.path.isfile(data):
        from geo2map.raster.open import open_raster

        with open_raster(data, allow_ungeoreferenced=True):  # not a raster: says so
            pass
        raise InputError(f"{data} is a single raster: give its co-registered target with pair=TARGET")
    if not (pair or os.path.isdir(data)):
        raise InputError(f"evaluation data {data} does not exist")
    with removed_on_error(out_dir):
        if pair:
            error_map = _evaluate_rasters(
                model_arg, data, pair, out_dir, out_scaling, acc, per_pair, shown, translate_options, pair_bidx
            )
            _raster_artefacts(model_arg, data, out_dir, out_scaling, per_pair, translate_options)
        else:
            pairs = iter_image_pairs(data, direction, split, max_pairs, val_fraction, seed)
            _evaluate_images(
                model_arg,
                pairs,
                out_scaling,
                acc,
                (per_pair, shown),
                samples,
                crop_pairs,
                translate_options,
                progress,
                max_pairs,
            )
        if not per_pair:
            raise InputError(f"no pair found in {data}")
        metrics = {**acc.metrics(), **artefacts.summarise(per_pair)}
        report_path = os.path.join(out_dir, "report.json")
        rep: dict[str, Any] = {
            "model": loaded.card.name or os.path.basename(loaded.path),
            "model_path": loaded.path,
            "data": os.path.abspath(data),
            "pair": os.path.abspath(pair) if pair else None,
            "split": split,
            "direction": direction,
            "pairs": len(per_pair),
            "scale": "8-bit levels of the card's output scaling",
            "metrics": metrics,
            "per_pair": per_pair,
        }
        with open(report_path, "w") as f:
            json.dump(rep, f, indent=1)
        sample_path = _sample_grid(shown, os.path.join(out_dir, "samples.png"), rep["model"]) if shown else None
    return EvalReport(rep["model"], rep["data"], len(per_pair), metrics, per_pair, report_path, sample_path, error_map)


def _loaded(model: ModelRef) -> LoadedModel:
    """A :class:`LoadedModel` from a loaded model, ``identity`` (8-bit images here) or a name or path."""
    from geo2map.models.package import LoadedModel, load_model
    from geo2map.models.registry import identity_card, resolve

    if isinstance(model, LoadedModel):
        return model
    if model == IDENTITY:  # its card depends on the data: 8-bit images here
        return LoadedModel(identity_card(3, "uint8"), None, IDENTITY)
    return load_model(resolve(model))


def _raster_artefacts(
    model_arg: Any,
    data: str,
    out_dir: str,
    out_scaling: Scaling,
    per_pair: list[dict[str, Any]],
    options: dict[str, Any],
) -> None:
    """Checker ratio and crop consistency of a raster pair's prediction, added to its record."""
    with tempfile.TemporaryDirectory(prefix="geo2map-eval-") as work:
        per_pair[-1].update(
            artefacts.raster_artefacts(
                data,
                os.path.join(out_dir, "prediction.tif"),
                model_arg,
                work,
                lambda x: to_levels(out_scaling, x),
                **options,
            )
        )


def _evaluate_images(
    model_arg: Any,
    pairs: Any,
    out_scaling: Scaling,
    acc: Accumulator,
    records: tuple[list[dict[str, Any]], list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    samples: int,
    crop_pairs: int,
    options: dict[str, Any],
    progress: Callable[[int, int | None], None] | None = None,
    max_pairs: int | None = None,
) -> None:
    """Image pairs: translate each, score accuracy and artefacts into ``records`` (per pair, shown)."""
    per_pair, shown = records
    with tempfile.TemporaryDirectory(prefix="geo2map-eval-") as work:
        for i, (name, a, b) in enumerate(pairs, 1):
            out = translate_image(a, model_arg, work, name=name, **options)
            if out.shape != b.shape:
                raise InputError(f"{name}: the model gives {out.shape[0]} bands, the target has {b.shape[0]}")
            lo, lt = to_levels(out_scaling, out), to_levels(out_scaling, b)
            mse, s = acc.add(lo, lt, np.ones(b.shape[1:], bool))
            acc.psnr.append(psnr_levels(mse))
            acc.ssim.append(s)
            rec = {"name": name, "rmse": float(np.sqrt(mse)), "psnr": acc.psnr[-1], "ssim": s}
            rec["checker"] = artefacts.checker_ratio(lo)
            if i <= crop_pairs:
                crop = artefacts.crop_consistency(
                    lambda x: translate_image(x, model_arg, work, **options),
                    a,
                    out,
                    levels=lambda x: to_levels(out_scaling, x),
                )
                rec["crop_ring"], rec["crop_inner"] = crop["ring"], crop["inner"]
            per_pair.append(rec)
            if len(shown) < samples:
                shown.append((a, out, b))
            if progress:
                progress(i, max_pairs)


def _evaluate_rasters(
    loaded: LoadedModel,
    src: str,
    target: str,
    out_dir: str,
    out_scaling: Scaling,
    acc: Accumulator,
    per_pair: list[dict[str, Any]],
    shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    options: dict[str, Any],
    pair_bidx: str | Sequence[int] | None = None,
) -> str:
    """A georeferenced pair: translate, compare window by window, write the error map."""
    import rasterio
    from rasterio.windows import Window

    from geo2map.raster.open import open_raster
    from geo2map.raster.pair import PairReader
    from geo2map.translate import translate_raster

    pred = os.path.join(out_dir, "prediction.tif")
    translate_raster(src, pred, loaded, overwrite=True, **options)
    err_path = os.path.join(out_dir, "error.tif")
    with open_raster(pred) as p:
        reader = PairReader(target, p, pair_bidx, "bilinear")
        try:
            t = reader.source
            if t.count != p.count:
                raise InputError(f"the model gives {p.count} bands, the target {target} has {t.count}")
            profile = {
                "driver": "GTiff",
                "width": p.width,
                "height": p.height,
                "count": 1,
                "dtype": "float32",
                "crs": p.crs,
                "transform": p.transform,
                "nodata": float("nan"),
                "tiled": True,
                "blockxsize": 256,
                "blockysize": 256,
                "compress": "deflate",
                "predictor": 3,
            }
            with rasterio.open(err_path, "w", **profile) as err:
                err.set_band_description(1, "max |output - target| over bands, 8-bit levels")
                for row in range(0, p.height, WINDOW):
                    for col in range(0, p.width, WINDOW):
                        w = Window(col, row, min(WINDOW, p.width - col), min(WINDOW, p.height - row))
                        po, pv = p.read(w)
                        to, tv = t.read(w)
                        valid = np.ones(po.shape[1:], bool)
                        for v in (pv, tv):
                            if v is not None:
                                valid &= v.all(axis=0)
                        lo, lt = to_levels(out_scaling, po), to_levels(out_scaling, to)
                        if valid.any():
                            _, s = acc.add(lo, lt, valid)
                            if not np.isnan(s):
                                acc.ssim.append(s)
                        emap = np.where(valid, np.abs(lo - lt).max(axis=0), np.nan).astype("float32")
                        err.write(emap, 1, window=w)
            if not acc.n:
                raise InputError("the prediction and the target share no valid pixel")
            mse = acc.sq / acc.n  # the whole pair, pooled over its windows
            acc.psnr.append(psnr_levels(mse))
            per_pair.append({"name": os.path.basename(src), "rmse": float(np.sqrt(mse)), "psnr": acc.psnr[-1]})
            with open_raster(src) as s_src:
                a = s_src.read_decimated(250_000)[0]
            shown.append((a, p.read_decimated(250_000)[0], t.read_decimated(250_000)[0]))
        finally:
            reader.close()
    return err_path


def _sample_grid(shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]], path: str, title: str) -> str:
    from geo2map.plots import as_picture, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(len(shown), 4, figsize=(10, 2.6 * len(shown)), squeeze=False)
    for r, (a, o, t) in enumerate(shown):
        err = np.abs(o.astype(np.float64) - t.astype(np.float64)).max(axis=0) if o.shape == t.shape else None
        pics = [as_picture(a, None), as_picture(o, None), as_picture(t, None)]
        for c, (pic, name) in enumerate(zip(pics, ("input", "output", "target"), strict=True)):
            axes[r, c].imshow(pic, interpolation="nearest")
            axes[r, c].set_axis_off()
            if r == 0:
                axes[r, c].set_title(name)
        if err is not None:
            im = axes[r, 3].imshow(err, cmap="magma", vmin=0, vmax=max(float(np.percentile(err, 99)), 1.0))
            fig.colorbar(im, ax=axes[r, 3], fraction=0.046)
        axes[r, 3].set_axis_off()
        if r == 0:
            axes[r, 3].set_title("|output - target| (max over bands)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
