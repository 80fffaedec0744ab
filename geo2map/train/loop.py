"""The training loop behind ``geo2map train``.

A run folder holds::

    runs/NAME/
      config.yaml          the resolved configuration (preset < --config < options)
      model.safetensors    the generator + model card (at each checkpoint and at the end)
      models/epoch_NNN.safetensors   every keep_every epochs (to pick one by held-out metrics)
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
import os
import random
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError
from geo2map.train.checkpoint import card_time_s, load_checkpoint, restore_rng_state, resume_conflicts, rng_state
from geo2map.train.config import TrainConfig
from geo2map.train.inputs import Data, build_datasets
from geo2map.train.schedule import autocast_dtype, hardware, inference_tiling, lr_lambda

if TYPE_CHECKING:
    import torch
    from torch import nn

    from geo2map.sensors import Scaling
    from geo2map.train.gans import GAN

TrainProgress = Callable[[dict[str, Any]], None]

__all__ = ["Trainer", "build_datasets", "autocast_dtype", "inference_tiling", "load_checkpoint", "TrainProgress"]


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
        self.steps_per_epoch = 0  # set by fit(), for the card

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
        from geo2map.train.gans import CycleGAN, Pix2Pix

        device = resolve_device(cfg.device)
        ac = autocast_dtype(cfg.amp, device)
        self.precision = {torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}.get(ac, "fp32")
        cls = Pix2Pix if cfg.mode == "pix2pix" else CycleGAN
        model = cls(cfg, len(data.train.bands_a), len(data.train.bands_b), device, ac)
        scheds = {k: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(cfg)) for k, o in model.opts.items()}
        ckpt = os.path.join(self.out, "checkpoint.pt")
        start, history, before = 0, list[dict[str, Any]](), 0.0  # before: training seconds of the run before a resume
        if resume and os.path.exists(ckpt):
            start, history, before = self._restore(ckpt, model, scheds, device)
        os.makedirs(os.path.join(self.out, "samples"), exist_ok=True)
        cfg.to_yaml(os.path.join(self.out, "config.yaml"))
        steps = self.steps_per_epoch = cfg.steps_per_epoch(len(data.train))
        t_start = time.perf_counter()
        for epoch in range(start, cfg.epochs):
            record = self._train_epoch(model, data, device, epoch, steps)
            for s in scheds.values():
                s.step()
            if len(data.val) and ((epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs):
                record.update(self.validate(model.generator(), data.val, device, epoch + 1))
            history.append(record)
            self._plot_history(history)
            keep = cfg.keep_every > 0 and (epoch + 1) % cfg.keep_every == 0
            if keep or epoch + 1 == cfg.epochs or (epoch + 1) % cfg.checkpoint_every == 0:
                elapsed = before + time.perf_counter() - t_start
                self._checkpoint(ckpt, epoch + 1, model, scheds, history, elapsed)
                self.save_models(model, data, history, elapsed, device)
                if keep:
                    self._keep_model(epoch + 1)
            if self.progress:
                self.progress({"epoch_end": epoch + 1, "epochs": cfg.epochs, "metrics": record})
        with open(os.path.join(self.out, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        return history[-1] if history else {}

    def _keep_model(self, epoch: int) -> None:
        """Copy the model file just written to ``models/epoch_NNN.safetensors``."""
        import shutil

        kept = os.path.join(self.out, "models")
        os.makedirs(kept, exist_ok=True)
        name = f"epoch_{epoch:03d}.safetensors"
        shutil.copyfile(os.path.join(self.out, "model.safetensors"), os.path.join(kept, name))

    def _restore(
        self, ckpt: str, model: GAN, scheds: dict[str, Any], device: torch.device
    ) -> tuple[int, list[Any], float]:
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
        restore_rng_state(state["rng"])
        start = int(state["epoch"])
        return start, list(state["history"]), float(state.get("time_s") or card_time_s(self.out, start))

    def _train_epoch(self, model: GAN, data: Data, device: torch.device, epoch: int, steps: int) -> dict[str, Any]:
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
        self, ckpt: str, epoch: int, model: GAN, scheds: dict[str, Any], history: list[Any], time_s: float
    ) -> None:
        """Everything a resume needs, written atomically."""
        import torch

        state = {
            "epoch": epoch,
            "model": model.state_dict(),
            "scheds": {k: s.state_dict() for k, s in scheds.items()},
            "history": history,
            "rng": rng_state(),
            "config": self.cfg.to_dict(),
            "time_s": time_s,
        }
        torch.save(state, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    # -- validation, pictures ------------------------------------------------
    def validate(self, generator: nn.Module, val: Any, device: torch.device, epoch: int) -> dict[str, float]:
        """L1, PSNR and SSIM (torchmetrics, on [0, 1]) over the validation set; writes a sample grid."""
        import torch
        from torchmetrics.functional import mean_absolute_error as mae
        from torchmetrics.functional.image import peak_signal_noise_ratio as psnr
        from torchmetrics.functional.image import structural_similarity_index_measure as ssim

        was_training = generator.training
        generator.train(self.cfg.inference_mode == "train")
        l1s: list[float] = []
        psnrs: list[float] = []
        ssims: list[float] = []
        shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        with torch.inference_mode():
            for i in range(len(val)):
                s = val[i]
                a = s["A"][None].to(device)
                fake = generator(a).float().clamp(-1, 1).contiguous()
                real = s["B"][None].to(device)
                f01, r01 = (fake + 1) / 2, (real + 1) / 2
                l1s.append(float(mae(f01, r01)))
                psnrs.append(float(psnr(f01, r01, data_range=1.0)))
                ssims.append(float(ssim(f01, r01, data_range=1.0)))  # type: ignore[arg-type]  # one tensor here
                if len(shown) < self.cfg.samples:
                    shown.append((s["A"].numpy(), fake[0].cpu().numpy(), s["B"].numpy()))
        generator.train(was_training)
        self._sample_grid(shown, epoch)
        return {"val_L1": float(np.mean(l1s)), "val_PSNR": float(np.mean(psnrs)), "val_SSIM": float(np.mean(ssims))}

    def _sample_grid(self, shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]], epoch: int) -> None:
        if not shown:
            return
        from geo2map.plots import display_rgb, pyplot

        plt = pyplot()
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
        from geo2map.plots import pyplot

        plt = pyplot()
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
    def save_models(
        self, model: GAN, data: Data, history: list[dict[str, Any]], seconds: float, device: torch.device
    ) -> None:
        """Write the model file (card and weights) into the run folder."""
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
            "iterations": history[-1]["epoch"] * self.steps_per_epoch,
            "images_seen": history[-1]["epoch"] * self.steps_per_epoch * cfg.batch_size,
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
        if model.init_record:  # fine-tuned: what it started from
            training["init_from"] = model.init_record
        if getattr(tr, "pixel_size_m", None):  # georeferenced training data: translate checks scenes against it
            training["pixel_size_m"] = round(float(tr.pixel_size_m), 4)

        def card(
            name: str, gen_in: list[str], gen_out: list[str], sin: Scaling, sout: Scaling, dtype: str, ci: list[str]
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


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    return {
        "A": torch.stack([s["A"] for s in samples]),
        "B": torch.stack([s["B"] for s in samples]),
        "name": [s["name"] for s in samples],
    }
