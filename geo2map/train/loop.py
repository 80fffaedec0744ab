"""The training loop behind ``geo2map train``.

A run folder holds::

    runs/NAME/
      config.yaml          the resolved configuration (preset < --config < options)
      model.safetensors    the generator + model card (at each checkpoint and at the end)
      model_BtoA.safetensors   (CycleGAN: the reverse generator)
      checkpoint.pt        weights, optimisers, schedulers, epoch, RNG states, history
      samples/epoch_NNN.png    input | output | target for a few validation tiles
      losses.png           loss curves and validation metrics per epoch
      history.json         the same numbers

Resuming (the default when ``checkpoint.pt`` exists) continues exactly: for a
fixed seed on CPU, N epochs in one go and N/2 + resume + N/2 give the same weights.
Validation L1, PSNR and SSIM come from torchmetrics, computed on outputs and
targets mapped to [0, 1].
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo2map.errors import InputError
from geo2map.train.config import TrainConfig

TrainProgress = Callable[[dict[str, Any]], None]


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _has_ab(folder: str, prefix: str) -> bool:
    return os.path.isdir(os.path.join(folder, prefix + "A")) and os.path.isdir(os.path.join(folder, prefix + "B"))


def detect_format(cfg: TrainConfig) -> str:
    if cfg.data_format != "auto":
        return cfg.data_format
    data = cfg.data
    if os.path.isfile(data):
        if not cfg.pair:
            raise InputError(f"{data} is a raster: give the co-registered target with pair=TARGET")
        return "geotiff_pair"
    if not os.path.isdir(data):
        raise InputError(f"training data {data} does not exist")
    if os.path.exists(os.path.join(data, "tiles.gpkg")):
        return "tile_folder"
    if _has_ab(data, "train") or _has_ab(data, ""):
        return "unpaired" if cfg.mode == "cyclegan" else "ab_folders"
    if any(f.lower().endswith((".jpg", ".jpeg", ".png")) for f in os.listdir(data)):
        return "side_by_side"
    if os.path.isdir(os.path.join(data, "train")):
        return "side_by_side"
    raise InputError(
        f"cannot tell the layout of {data}: expected trainA/trainB, A/B, a geo2map tile "
        "folder (tiles.gpkg) or A|B images"
    )


def _scaling(spec: dict[str, Any] | None, default: dict[str, Any]) -> Any:
    from geo2map.sensors import scaling_from_dict

    return scaling_from_dict(spec or default)


@dataclass
class Data:
    train: Any
    val: Any
    fmt: str


def build_datasets(cfg: TrainConfig) -> Data:
    """Build training and validation datasets for ``cfg`` (formats: see :func:`detect_format`)."""
    from geo2map.train import data as D

    fmt = detect_format(cfg)
    aug = D.Augment(crop=cfg.crop_size, flip=cfg.flip, rot90=cfg.rot90, band_jitter=cfg.band_jitter)
    seed = cfg.seed
    if fmt == "geotiff_pair":
        from geo2map.raster.open import open_raster
        from geo2map.raster.pair import PairReader
        from geo2map.raster.tiling import TileGrid

        with open_raster(cfg.data, bidx=cfg.bidx_a) as a:
            b_reader = PairReader(cfg.pair or "", a, cfg.bidx_b, "bilinear")
            try:
                b = b_reader.source
                grid = TileGrid(a.width, a.height, cfg.tile_size, cfg.tile_overlap, a.transform, a.crs)
                sa = _scaling(cfg.scaling_a, D.default_scaling(np.dtype(a.dtype))).fit_source(a)
                sb = _scaling(cfg.scaling_b, D.default_scaling(np.dtype(b.dtype))).fit_source(b)
                tiles = []
                from geo2map.raster.tile_reader import iter_tiles

                for (tile, _, va), (_, _, vb) in zip(
                    iter_tiles(a, grid, skip_empty=False), iter_tiles(b, grid, skip_empty=False), strict=True
                ):
                    if (va is None or va.mean() > 0.5) and (vb is None or vb.mean() > 0.5):
                        tiles.append(tile)
                bands_a = [d or f"band{i}" for i, d in zip(a.indexes, a.descriptions, strict=True)]
                bands_b = [d or f"band{i}" for i, d in zip(b.indexes, b.descriptions, strict=True)]
                dtype_b = b.dtype
                ci_b = [c.name for c in b.colorinterp]
                from geo2map.scene_checks import pixel_size_m

                pixel = pixel_size_m(a)
            finally:
                b_reader.close()
        if not tiles:
            raise InputError(f"no {cfg.tile_size}-px tile of {cfg.data} is at least half valid in both rasters")
        tr, va_ = D.spatial_split(tiles, cfg.val_fraction, cfg.split_block, seed)
        kw = dict(
            tile_size=cfg.tile_size,
            bidx_a=cfg.bidx_a,
            bidx_b=cfg.bidx_b,
            scaling_a=sa,
            scaling_b=sb,
            augment=aug,
            seed=seed,
        )
        train = D.RasterPairDataset(cfg.data, cfg.pair or "", tr, train=True, **kw)  # type: ignore[arg-type]
        val = D.RasterPairDataset(cfg.data, cfg.pair or "", va_, train=False, **kw)  # type: ignore[arg-type]
        for ds in (train, val):
            ds.bands_a, ds.bands_b, ds.dtype_b, ds.colorinterp_b = bands_a, bands_b, dtype_b, ci_b
            ds.pixel_size_m = pixel
        return Data(train, val, fmt)

    if fmt == "tile_folder":
        from geo2map.tile_folder import read_tile_index

        gdf, grid = read_tile_index(cfg.data)
        if "pair_file" not in gdf.columns:
            raise InputError(f"{cfg.data} has no B tiles: make it with 'geo2map tile --pair'")
        tiles = [grid.tile(int(r), int(c)) for r, c in zip(gdf["row"], gdf["col"], strict=True)]
        files = {
            t.name: (os.path.join(cfg.data, fa), os.path.join(cfg.data, fb))
            for t, fa, fb in zip(tiles, gdf["file"], gdf["pair_file"], strict=True)
        }
        tr, va_ = D.spatial_split(tiles, cfg.val_fraction, cfg.split_block, seed)
        train = D.FilePairDataset([files[t.name] for t in tr], augment=aug, seed=seed, train=True)
        val = D.FilePairDataset([files[t.name] for t in va_], augment=aug, seed=seed, train=False)
        return _finish_files(cfg, Data(train, val, fmt))

    if fmt in ("ab_folders", "unpaired"):
        prefix = "train" if _has_ab(cfg.data, "train") else ""
        fa = D._list_images(os.path.join(cfg.data, prefix + "A"))
        fb = D._list_images(os.path.join(cfg.data, prefix + "B"))
        val_prefix = next((p for p in ("val", "test") if prefix and _has_ab(cfg.data, p)), None)
        if cfg.max_images:
            fa, fb = fa[: cfg.max_images], fb[: cfg.max_images]
        if fmt == "unpaired":
            if val_prefix:
                va_a = D._list_images(os.path.join(cfg.data, val_prefix + "A"))
                va_b = D._list_images(os.path.join(cfg.data, val_prefix + "B"))
                tr_a = fa
            else:
                tr_a, va_a = D.holdout_split(fa, cfg.val_fraction, seed)
                va_b = fb
            if not tr_a or not fb:
                raise InputError(f"{cfg.data} has an empty A or B folder")
            train = D.UnpairedDataset(tr_a, fb, augment=aug, seed=seed, train=True, load_size=cfg.load_size)
            val = D.UnpairedDataset(
                va_a[: max(cfg.samples, 16)], va_b, augment=aug, seed=seed, train=False, load_size=cfg.load_size
            )
            return _finish_files(cfg, Data(train, val, fmt))
        pairs = D.match_pairs(fa, fb)
        if not pairs:
            raise InputError(f"no file name (without extension) appears in both A and B folders of {cfg.data}")
        if val_prefix:
            va_fa = D._list_images(os.path.join(cfg.data, val_prefix + "A"))
            val_pairs = D.match_pairs(va_fa, D._list_images(os.path.join(cfg.data, val_prefix + "B")))
            train_pairs = pairs
        else:
            train_pairs, val_pairs = D.holdout_split(pairs, cfg.val_fraction, seed)
        train = D.FilePairDataset(train_pairs, augment=aug, seed=seed, train=True, load_size=cfg.load_size)
        val = D.FilePairDataset(val_pairs, augment=aug, seed=seed, train=False, load_size=cfg.load_size)
        return _finish_files(cfg, Data(train, val, fmt))

    if fmt == "side_by_side":
        folder = os.path.join(cfg.data, "train") if os.path.isdir(os.path.join(cfg.data, "train")) else cfg.data
        files = D._list_images(folder)
        if cfg.max_images:
            files = files[: cfg.max_images]
        val_folder = next(
            (
                os.path.join(cfg.data, p)
                for p in ("val", "test")
                if folder != cfg.data and os.path.isdir(os.path.join(cfg.data, p))
            ),
            None,
        )
        if val_folder:
            tr_f, va_f = files, D._list_images(val_folder)
        else:
            tr_f, va_f = D.holdout_split(files, cfg.val_fraction, seed)
        train = D.SideBySideDataset(
            tr_f, direction=cfg.direction, augment=aug, seed=seed, train=True, load_size=cfg.load_size
        )
        val = D.SideBySideDataset(
            va_f, direction=cfg.direction, augment=aug, seed=seed, train=False, load_size=cfg.load_size
        )
        return _finish_files(cfg, Data(train, val, fmt))
    raise InputError(f"unknown data format {fmt!r}")


def _finish_files(cfg: TrainConfig, data: Data) -> Data:
    """Scalings and band names for file-based datasets, from the first training sample."""
    from geo2map.train.data import default_scaling

    if len(data.train) == 0:
        raise InputError(f"no training samples found in {cfg.data}")
    a_raw, _, b_raw, _, _ = data.train.load(0)
    sa = _scaling(cfg.scaling_a, default_scaling(a_raw.dtype))
    sb = _scaling(cfg.scaling_b, default_scaling(b_raw.dtype))
    if sa.needs_fit:
        sa = sa.fit(a_raw)
    if sb.needs_fit:
        sb = sb.fit(b_raw)
    first = data.train.items[0]
    paths = first if isinstance(first, tuple) else (first, first)
    names_a = _band_names(paths[0], a_raw.shape[0])
    names_b = _band_names(getattr(data.train, "files_b", [paths[1]])[0], b_raw.shape[0])
    for ds in (data.train, data.val):
        ds.scaling_a, ds.scaling_b = sa, sb
        ds.bands_a, ds.bands_b = names_a, names_b
        ds.dtype_b = str(b_raw.dtype)
        ds.colorinterp_b = ["red", "green", "blue"] if b_raw.shape[0] == 3 else []
    return data


def _band_names(path: str, count: int) -> list[str]:
    """Band descriptions of a raster file (``band<i>`` where it has none)."""
    names = [f"band{i + 1}" for i in range(count)]
    if path.lower().endswith((".tif", ".tiff", ".vrt", ".img", ".jp2")):
        import rasterio

        with rasterio.open(path) as ds:
            if ds.count == count:
                names = [d or n for d, n in zip(ds.descriptions, names, strict=True)]
    return names


# ---------------------------------------------------------------------------
# schedules, devices
# ---------------------------------------------------------------------------
def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Per-epoch LR factor."""
    n = cfg.epochs
    if cfg.lr_schedule == "linear":  # the paper: constant, then linear decay to 0
        n_const = int(round(cfg.decay_start * n))
        n_decay = max(n - n_const, 1)
        return lambda e: 1.0 - max(0, e + 1 - n_const) / float(n_decay + 1)
    if cfg.lr_schedule == "cosine_onecycle":  # 10% warm-up from 0.1, then cosine to 0
        warm = max(1, int(round(0.1 * n)))

        def f(e: int) -> float:
            if e < warm:
                return 0.1 + 0.9 * e / warm
            t = (e - warm) / max(1, n - warm)
            return float(0.5 * (1 + math.cos(math.pi * t)))  # a Python float: checkpoints stay weights-only

        return f
    return lambda e: 1.0


def load_checkpoint(path: str, device: Any) -> dict[str, Any]:
    """Our own checkpoint.pt, read weights-only (never executed). Runs before this fix stored the
    cosine schedule's learning rates as numpy scalars: those (and only those) numpy types are allowed."""
    import warnings

    import torch

    unreadable = f"{path} is not a readable geo2map checkpoint; use another out_dir=FOLDER or resume=False"
    with warnings.catch_warnings():  # a foreign pickle's protocol warning: the one-line error says it all
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.load(path, map_location=device, weights_only=True)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - pickle.UnpicklingError for numpy scalars
            if "numpy" not in str(exc):
                raise InputError(unreadable) from None
        allowed = [np._core.multiarray.scalar, np.dtype, type(np.dtype("float64"))]
        try:
            with torch.serialization.safe_globals(allowed):
                return torch.load(path, map_location=device, weights_only=True)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - other globals: a pickle that is not ours
            raise InputError(unreadable) from None


#: options a checkpoint's weights and optimiser state depend on: a resume must not change them
ARCHITECTURE_OPTIONS = (
    "mode",
    "generator",
    "ngf",
    "ndf",
    "norm",
    "dropout",
    "upsample",
    "padding",
    "num_d",
    "n_layers_d",
)


def resume_conflicts(saved: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """``option value`` for each architecture option the checkpoint was trained with and ``cfg`` changes."""
    now = cfg.to_dict()
    return [f"{k} {saved[k]}" for k in ARCHITECTURE_OPTIONS if k in saved and k in now and saved[k] != now[k]]


def _card_time(run: str, epoch: int) -> float:
    """Training seconds from the run's model card, for checkpoints that predate ``time_s``."""
    from geo2map.models.package import read_card

    try:
        training = read_card(os.path.join(run, "model.safetensors")).training
    except Exception:  # noqa: BLE001 - no card or an unreadable one: the time is unknown
        return 0.0
    return float(training.get("time_s") or 0.0) if training.get("epochs") == epoch else 0.0


def autocast_dtype(amp: str, device: Any) -> Any:
    import torch

    if amp == "off":
        return None
    if device.type == "cpu":
        # CPU autocast is bf16 only; it pays where AMX or AVX512-BF16 runs it (3.2x for a U-Net-256
        # ngf 16 training step with AMX, 2.0x with AVX512-BF16, README), elsewhere it is emulated
        from geo2map.inference import cpu_has_fast_bf16

        return torch.bfloat16 if amp == "bf16" or (amp == "auto" and cpu_has_fast_bf16()) else None
    if device.type != "cuda":
        return None
    if amp in ("auto", "bf16"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16


def hardware(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return (
        f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads on {os.cpu_count()} cores"
    )


# ---------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------
class Trainer:
    """Train a Pix2Pix or CycleGAN model into a run folder.

    Args:
        cfg: The resolved configuration.
        out_dir: The run folder.
        progress: Called with ``{"epoch", "epochs", "step", "steps", "losses"}`` after
            each step and ``{"epoch_end": ..., "metrics": ...}`` after each epoch.
    """

    def __init__(
        self, cfg: TrainConfig, out_dir: str | os.PathLike[str], progress: TrainProgress | None = None
    ) -> None:
        self.cfg = cfg
        self.out = os.fspath(out_dir)
        self.progress = progress
        self.precision = "fp32"  # what fit() trains in, for the card

    def _seed(self) -> None:
        import torch

        random.seed(self.cfg.seed)  # the CycleGAN image pool
        torch.manual_seed(self.cfg.seed)  # weights init, dropout, instance noise
        # numpy's global RNG is not used: augmentation draws from per-sample generators

    def fit(self, resume: bool = True) -> dict[str, Any]:
        """Train for ``cfg.epochs`` (continuing the run folder's checkpoint when ``resume``).

        Nothing is written to the run folder before the data, the model and the
        checkpoint to resume from have been checked.
        """
        import torch

        cfg = self.cfg
        self._seed()
        data = build_datasets(cfg)
        if len(data.train) < cfg.batch_size:
            raise InputError(f"{len(data.train)} training samples, fewer than the batch size {cfg.batch_size}")
        from geo2map.inference import resolve_device
        from geo2map.train.models import CycleGAN, Pix2Pix

        device = resolve_device(cfg.device)
        ac = autocast_dtype(cfg.amp, device)
        self.precision = {torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}.get(ac, "fp32")
        cls = Pix2Pix if cfg.mode == "pix2pix" else CycleGAN
        model = cls(cfg, len(data.train.bands_a), len(data.train.bands_b), device, ac)
        scheds = {k: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(cfg)) for k, o in model.opts.items()}
        ckpt = os.path.join(self.out, "checkpoint.pt")
        start, history, before = 0, [], 0.0  # before: training seconds of the run before a resume
        if resume and os.path.exists(ckpt):
            start, history, before = self._restore(ckpt, model, scheds, device)
        os.makedirs(os.path.join(self.out, "samples"), exist_ok=True)
        cfg.to_yaml(os.path.join(self.out, "config.yaml"))
        steps = len(data.train) // cfg.batch_size
        if cfg.max_steps_per_epoch:
            steps = min(steps, cfg.max_steps_per_epoch)
        t_start = time.perf_counter()
        for epoch in range(start, cfg.epochs):
            record = self._train_epoch(model, data, device, epoch, steps)
            for s in scheds.values():
                s.step()
            if len(data.val) and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
                record.update(self.validate(model.generator(), data.val, device, epoch + 1))
            history.append(record)
            self._plot_history(history)
            if epoch + 1 == cfg.epochs or (epoch + 1) % cfg.checkpoint_every == 0:
                elapsed = before + time.perf_counter() - t_start
                self._checkpoint(ckpt, epoch + 1, model, scheds, history, elapsed)
                self.save_models(model, data, history, elapsed, device)
            if self.progress:
                self.progress({"epoch_end": epoch + 1, "epochs": cfg.epochs, "metrics": record})
        with open(os.path.join(self.out, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        return history[-1] if history else {}

    def _restore(self, ckpt: str, model: Any, scheds: dict[str, Any], device: Any) -> tuple[int, list[Any], float]:
        """Load the run folder's checkpoint into ``model``: (epochs done, history, seconds trained)."""
        state = load_checkpoint(ckpt, device)
        if not isinstance(state, dict) or not {"epoch", "model", "scheds", "history", "rng"} <= set(state):
            raise InputError(f"{ckpt} is not a geo2map training checkpoint; use another out_dir=FOLDER or resume=False")
        changed = resume_conflicts(state.get("config") or {}, self.cfg)
        if changed:
            raise InputError(
                f"{self.out} was trained with {', '.join(changed)}: resume it with the same options, "
                "or start a new run (another out_dir=FOLDER, or resume=False to overwrite it)"
            )
        try:
            model.load_state_dict(state["model"])
            for k, s in scheds.items():
                s.load_state_dict(state["scheds"][k])
        except (RuntimeError, KeyError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"{ckpt} does not fit this model ({first}); use another out_dir=FOLDER or resume=False"
            ) from None
        _set_rng(state["rng"])
        start = int(state["epoch"])
        return start, list(state["history"]), float(state.get("time_s") or _card_time(self.out, start))

    def _train_epoch(self, model: Any, data: Data, device: Any, epoch: int, steps: int) -> dict[str, Any]:
        """One epoch of ``steps`` batches (seeded by epoch: a resumed run sees the same batches)."""
        import torch
        from torch.utils.data import DataLoader

        cfg = self.cfg
        data.train.set_epoch(epoch)
        loader = DataLoader(
            data.train,
            batch_size=cfg.batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(cfg.seed * 1000003 + epoch),
            num_workers=cfg.num_workers,
            pin_memory=device.type == "cuda",
            collate_fn=_collate,
            persistent_workers=False,
        )
        model.train(True)
        total_steps = steps * cfg.epochs
        sums: dict[str, float] = {}
        for i, batch in enumerate(loader):
            if i >= steps:
                break
            sigma = cfg.instance_noise * max(0.0, 1.0 - (epoch * steps + i) / max(total_steps, 1))
            losses = model.step(batch, sigma)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            if self.progress:
                self.progress(
                    {"epoch": epoch + 1, "epochs": cfg.epochs, "step": i + 1, "steps": steps, "losses": losses}
                )
        return {"epoch": epoch + 1, **{k: v / max(steps, 1) for k, v in sums.items()}}

    def _checkpoint(
        self, ckpt: str, epoch: int, model: Any, scheds: dict[str, Any], history: list[Any], time_s: float
    ) -> None:
        """Everything a resume needs, written atomically."""
        import torch

        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "scheds": {k: s.state_dict() for k, s in scheds.items()},
            "history": history,
            "rng": _get_rng(),
            "config": self.cfg.to_dict(),
            "time_s": time_s,
        }
        torch.save(state, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    # -- validation, pictures ------------------------------------------------
    def validate(self, generator: Any, val: Any, device: Any, epoch: int) -> dict[str, float]:
        """L1, PSNR and SSIM (torchmetrics, on [0, 1]) over the validation set; writes a sample grid."""
        import torch
        from torchmetrics.functional import mean_absolute_error as mae
        from torchmetrics.functional.image import peak_signal_noise_ratio as psnr
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        was_training = generator.training
        generator.train(self.cfg.inference_mode == "train")
        l1s, psnrs, ssims, shown = [], [], [], []
        with torch.inference_mode():
            for i in range(len(val)):
                s = val[i]
                a = s["A"][None].to(device)
                fake = generator(a).float().clamp(-1, 1).contiguous()
                real = s["B"][None].to(device)
                f01, r01 = (fake + 1) / 2, (real + 1) / 2
                l1s.append(float(mae(f01, r01)))
                psnrs.append(float(psnr(f01, r01, data_range=1.0)))
                ssims.append(float(ssim(f01, r01, data_range=1.0)))
                if len(shown) < self.cfg.samples:
                    shown.append((s["A"].numpy(), fake[0].cpu().numpy(), s["B"].numpy()))
        generator.train(was_training)
        self._sample_grid(shown, epoch)
        return {"val_L1": float(np.mean(l1s)), "val_PSNR": float(np.mean(psnrs)), "val_SSIM": float(np.mean(ssims))}

    def _sample_grid(self, shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]], epoch: int) -> None:
        if not shown:
            return
        from geo2map.plots import _pyplot, display_rgb

        plt = _pyplot()
        fig, axes = plt.subplots(len(shown), 3, figsize=(7.5, 2.5 * len(shown)), squeeze=False)
        for r, row in enumerate(shown):
            for c, (img, title) in enumerate(zip(row, ("input", "output", "target"), strict=True)):
                axes[r, c].imshow(
                    display_rgb((img + 1) / 2, p=(0, 100)) if img.shape[0] != 1 else display_rgb(img, p=(1, 99))
                )
                axes[r, c].set_axis_off()
                if r == 0:
                    axes[r, c].set_title(title)
        fig.suptitle(f"epoch {epoch}")
        fig.tight_layout()
        fig.savefig(os.path.join(self.out, "samples", f"epoch_{epoch:03d}.png"), dpi=80)
        plt.close(fig)

    def _plot_history(self, history: list[dict[str, Any]]) -> None:
        from geo2map.plots import _pyplot

        plt = _pyplot()
        epochs = [h["epoch"] for h in history]
        loss_keys = [k for k in history[-1] if k != "epoch" and not k.startswith("val_")]
        val_keys = [k for k in history[-1] if k.startswith("val_")]
        fig, axes = plt.subplots(1, 2 if val_keys else 1, figsize=(10 if val_keys else 5.5, 3.5), squeeze=False)
        for k in loss_keys:
            axes[0, 0].plot(epochs, [h.get(k, np.nan) for h in history], label=k, marker=".")
        axes[0, 0].set_xlabel("epoch")
        axes[0, 0].set_title("training losses (epoch mean)")
        axes[0, 0].legend(fontsize=8)
        if val_keys:
            ax = axes[0, 1]
            for k in val_keys:
                ax.plot(epochs, [h.get(k, np.nan) for h in history], label=k, marker=".")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_title("validation")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(self.out, "losses.png"), dpi=80)
        plt.close(fig)

    # -- model files --------------------------------------------------------
    def save_models(self, model: Any, data: Data, history: list[dict[str, Any]], seconds: float, device: Any) -> None:
        from geo2map.models.card import Architecture, Band, ModelCard
        from geo2map.models.package import save_model

        cfg = self.cfg
        tr = data.train
        metrics = {k: v for k, v in history[-1].items() if k.startswith("val_")}
        training = {
            "data": os.path.abspath(cfg.data),
            "pair": os.path.abspath(cfg.pair) if cfg.pair else None,
            "format": data.fmt,
            "train_samples": len(tr),
            "val_samples": len(data.val),
            "data_licence": cfg.data_licence,
            "command": " ".join(sys.argv),
            "epochs": history[-1]["epoch"],
            "time_s": round(seconds, 1),
            "hardware": hardware(device),
            "precision": self.precision,
            "seed": cfg.seed,
            "preset": cfg.preset,
            "gan_mode": cfg.gan_mode,
            "lr_g": cfg.lr_g,
            "lr_d": cfg.lr_d,
            "batch_size": cfg.batch_size,
        }
        if getattr(tr, "pixel_size_m", None):  # georeferenced training data: translate checks scenes against it
            training["pixel_size_m"] = round(float(tr.pixel_size_m), 4)

        def card(
            name: str, gen_in: list[str], gen_out: list[str], sin: Any, sout: Any, dtype: str, ci: list[str]
        ) -> ModelCard:
            return ModelCard(
                name=name,
                task=cfg.mode,
                summary=cfg.summary or f"{cfg.mode} model trained on {os.path.basename(cfg.data.rstrip('/'))}",
                architecture=Architecture(
                    cfg.generator,
                    len(gen_in),
                    len(gen_out),
                    cfg.ngf,
                    cfg.norm,
                    cfg.dropout,
                    cfg.upsample,  # type: ignore[arg-type]
                    cfg.padding,  # type: ignore[arg-type]
                ),
                input_bands=[Band(b) for b in gen_in],
                output_bands=[Band(b) for b in gen_out],
                input_scaling=sin.to_dict(),
                output_scaling=sout.to_dict(),
                output_dtype=dtype,
                output_colorinterp=ci,
                tile_size=tile,
                overlap=overlap,
                inference_mode=cfg.inference_mode,
                training=training,
                metrics=metrics,
                licence=cfg.licence,
            )

        tile, overlap = inference_tiling(cfg)
        name = cfg.name or os.path.basename(self.out.rstrip("/"))
        save_model(
            os.path.join(self.out, "model.safetensors"),
            model.generator(),
            card(name, tr.bands_a, tr.bands_b, tr.scaling_a, tr.scaling_b, tr.dtype_b, tr.colorinterp_b),
            half=cfg.half_weights,
        )
        if cfg.mode == "cyclegan":
            save_model(
                os.path.join(self.out, "model_BtoA.safetensors"),
                model.nets["G_B"],
                card(name + "_BtoA", tr.bands_b, tr.bands_a, tr.scaling_b, tr.scaling_a, "uint8", []),
                half=cfg.half_weights,
            )


def inference_tiling(cfg: TrainConfig) -> tuple[int, int]:
    """The card's tile size and overlap for a model trained with ``cfg``.

    A generator whose receptive field fits in the training crop (``unet_32`` on 256-px
    crops) and
    whose normalisation has no per-tile statistics runs on tiles of 4x the overlap its
    receptive field needs (:func:`~geo2map.models.architectures.context_overlap`), so a
    tiled translation equals a whole-scene one and fewer pixels are computed twice.
    Otherwise: the training crop, a quarter of it as overlap. ``cfg.overlap`` wins.
    """
    from geo2map.models.architectures import context_overlap, generator_multiple, per_tile_statistics

    per_tile_stats = per_tile_statistics(cfg.norm, cfg.inference_mode)
    # the receptive field must fit the training crop: interior pixels learnt with real context
    ov = None if per_tile_stats else context_overlap(cfg.generator, 2 * cfg.crop_size)
    if ov is None:
        return cfg.crop_size, cfg.overlap if cfg.overlap is not None else cfg.crop_size // 4
    mult = generator_multiple(cfg.generator)
    tile = max(cfg.crop_size, -(-4 * ov // mult) * mult)
    return tile, cfg.overlap if cfg.overlap is not None else ov


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    return {
        "A": torch.stack([s["A"] for s in samples]),
        "B": torch.stack([s["B"] for s in samples]),
        "name": [s["name"] for s in samples],
    }


def _get_rng() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"].cpu())
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
