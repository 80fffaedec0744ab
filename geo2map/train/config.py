"""Training configuration: one dataclass, documented presets, YAML in and out.

Precedence: preset < ``--config run.yaml`` < command-line options. The resolved
configuration is written beside the model file (``config.yaml``) so a run can be
repeated exactly.

Presets (``preset:``):

``paper``
    The reference pix2pix/CycleGAN recipe: Adam(2e-4, β1 0.5) for G and D, constant
    LR for the first half of the epochs then linear decay to 0, vanilla GAN loss for
    pix2pix (LSGAN for CycleGAN), no smoothing, no noise.
``stable``
    What the seed projects needed on remote-sensing data: TTUR (D learns 2x faster
    than G), one-sided label smoothing (real = 0.9), instance noise on D inputs
    (σ 0.1 decaying to 0 over training), LSGAN loss, cosine one-cycle LR.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal

from geo2map.errors import InputError, one_line

Mode = Literal["pix2pix", "cyclegan"]


@dataclass
class TrainConfig:
    """Every option of ``geo2map train`` (names as in YAML and on the command line)."""

    mode: Mode = "pix2pix"
    preset: str = "paper"
    # data
    data: str = ""
    pair: str | None = None
    data_format: str = "auto"  # auto|geotiff_pair|tile_folder|ab_folders|side_by_side|unpaired
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    bidx_a: str | None = None
    bidx_b: str | None = None
    scaling_a: dict[str, Any] | None = None  # sensors preset for rasters; images use optical_u8
    scaling_b: dict[str, Any] | None = None
    val_fraction: float = 0.1
    split_block: int = 4  # spatial split: blocks of split_block x split_block tiles
    max_images: int | None = None
    # tiles and augmentation
    tile_size: int = 256
    tile_overlap: int = 0
    load_size: int | None = None  # resize before cropping (images); None = no resize
    crop_size: int = 256
    flip: bool = True
    rot90: bool = True
    band_jitter: float = 0.0  # per-band gain/offset jitter of the input (fraction)
    border_reflect: float = 0.0  # probability of a simulated, reflection-padded scene border (data.reflect_border)
    # networks
    generator: str = "unet_256"
    ngf: int = 64
    ndf: int = 64
    norm: Literal["batch", "instance", "none"] = "batch"
    dropout: bool = True
    discriminator: str = "basic"
    n_layers_d: int = 3
    init: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    init_gain: float = 0.02
    upsample: Literal["deconv", "resize"] = "deconv"
    padding: Literal["zeros", "reflect"] = "zeros"
    num_d: int = 1  # multi-scale discriminator: 1-3 scales
    inference_mode: Literal["eval", "train"] = "eval"
    init_from: str | None = None  # a model (built-in name or file) whose generator starts G: fine-tuning
    # losses
    gan_mode: Literal["vanilla", "lsgan", "hinge"] = "vanilla"
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    lambda_fm: float = 0.0  # discriminator feature matching
    pool_size: int = 50
    label_smoothing: float = 0.0  # real label = 1 - label_smoothing (D only)
    instance_noise: float = 0.0  # σ of Gaussian noise on D inputs, decays linearly to 0
    # optimisation
    epochs: int = 200
    batch_size: int = 1
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_schedule: Literal["linear", "cosine_onecycle", "constant"] = "linear"
    decay_start: float = 0.5  # fraction of epochs at constant LR before linear decay
    # run
    seed: int = 0
    device: str = "auto"
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    channels_last: bool = True
    num_workers: int = 0
    checkpoint_every: int = 5
    keep_every: int = 0  # also keep models/epoch_NNN.safetensors every N epochs (pick one by held-out metrics)
    val_every: int = 1
    samples: int = 4
    max_steps_per_epoch: int | None = None
    half_weights: bool = False
    # model card
    name: str = ""
    summary: str = ""
    licence: str = ""
    data_licence: str = ""
    overlap: int | None = None

    def validate(self) -> TrainConfig:
        """Check every field (one-line :class:`~geo2map.errors.InputError`)."""
        self._check_types()
        if self.mode not in ("pix2pix", "cyclegan"):
            raise InputError("mode must be pix2pix or cyclegan")
        if self.gan_mode not in ("vanilla", "lsgan", "hinge"):
            raise InputError("gan_mode must be vanilla, lsgan or hinge")
        if self.lr_schedule not in ("linear", "cosine_onecycle", "constant"):
            raise InputError("lr_schedule must be linear, cosine_onecycle or constant")
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch_size must be >= 1")
        if self.keep_every < 0:
            raise InputError("keep_every must be >= 0 (0: keep no per-epoch model files)")
        if not 0 <= self.val_fraction < 1:
            raise InputError("val_fraction must be in [0, 1)")
        if self.upsample not in ("deconv", "resize"):
            raise InputError("upsample must be deconv or resize")
        if self.padding not in ("zeros", "reflect"):
            raise InputError("padding must be zeros or reflect")
        if self.num_d not in (1, 2, 3):
            raise InputError("num_d must be 1, 2 or 3")
        if self.lambda_fm < 0:
            raise InputError("lambda_fm must be >= 0")
        if not 0 <= self.border_reflect <= 1:
            raise InputError("border_reflect must be in [0, 1]")
        if not 0 <= self.label_smoothing < 0.5:
            raise InputError("label_smoothing must be in [0, 0.5)")
        if not self.data:
            raise InputError("no training data: give data=FOLDER")
        return self

    def _check_types(self) -> None:
        """Every option has the type its field declares (``--set lambda_l1=abc`` is an error, not a crash).

        YAML 1.1 reads ``3e-5`` (no dot) as a string: a number field takes such a string as the number it spells.
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kinds = _KINDS.get(str(f.type).replace(" | None", ""), (str,))
            if float in kinds and isinstance(value, str):
                try:
                    value = float(value)
                    setattr(self, f.name, value)
                except ValueError:
                    pass  # not a number: the check below says so
            if value is None and "None" in str(f.type):
                continue
            if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
                want = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(kinds[0].__name__, "")
                want = want or ("a mapping" if kinds[0] is dict else "a word")
                raise InputError(f"training option {f.name} must be {want}, not {value!r}")

    def steps_per_epoch(self, n_train: int) -> int:
        """Iterations in one epoch over ``n_train`` pairs: whole batches, at most ``max_steps_per_epoch``."""
        return steps_per_epoch(n_train, self.batch_size, self.max_steps_per_epoch)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a dict (``config.yaml``)."""
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | os.PathLike[str]) -> None:
        """The configuration as YAML text."""
        import yaml

        with open(path, "w") as f:
            yaml.safe_dump(self.to_dict(), f, sort_keys=False)


#: the Python types each declared field type accepts (Literal and str fields: str)
_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
}

_PAPER: dict[str, dict[str, Any]] = {
    "pix2pix": {
        "gan_mode": "vanilla",
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "lr_schedule": "linear",
        "label_smoothing": 0.0,
        "instance_noise": 0.0,
        "generator": "unet_256",
        "norm": "batch",
        "dropout": True,
        "lambda_l1": 100.0,
    },
    "cyclegan": {
        "gan_mode": "lsgan",
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "lr_schedule": "linear",
        "label_smoothing": 0.0,
        "instance_noise": 0.0,
        "generator": "resnet_9blocks",
        "norm": "instance",
        "dropout": False,
        "lambda_cycle": 10.0,
        "lambda_identity": 0.5,
    },
}
#: What ``stable`` changes in the paper recipe, for both modes.
_STABLE_CHANGES: dict[str, Any] = {
    "gan_mode": "lsgan",
    "lr_g": 1e-4,
    "lr_d": 2e-4,
    "lr_schedule": "cosine_onecycle",
    "label_smoothing": 0.1,
    "instance_noise": 0.1,
}
#: What ``hd`` adds to ``stable``.
_HD_CHANGES: dict[str, Any] = {"num_d": 2, "lambda_fm": 10.0}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": _PAPER,
    "stable": {mode: {**values, **_STABLE_CHANGES} for mode, values in _PAPER.items()},
    "hd": {mode: {**values, **_STABLE_CHANGES, **_HD_CHANGES} for mode, values in _PAPER.items()},
}


def steps_per_epoch(n_train: int, batch_size: int, max_steps: int | None = None) -> int:
    """Iterations in one epoch over ``n_train`` pairs at ``batch_size`` (the last partial batch
    dropped), capped at ``max_steps`` when given."""
    steps = n_train // batch_size
    return min(steps, max_steps) if max_steps else steps


def training_budget(
    training: dict[str, Any], batch_size: int | None = None, max_steps: int | None = None
) -> tuple[int | None, int | None]:
    """(iterations, images seen) of a card's ``training`` section: as recorded, or from its epochs,
    batch size (``batch_size`` overrides) and training samples for cards that predate recording
    them, epochs capped at ``max_steps`` iterations when given; (None, None) when unknown."""
    if training.get("iterations"):
        return training["iterations"], training.get("images_seen")
    try:
        batch = int(batch_size or training["batch_size"])
        iterations = int(training["epochs"]) * steps_per_epoch(int(training["train_samples"]), batch, max_steps)
    except (KeyError, TypeError, ValueError):
        return None, None
    return iterations, iterations * batch


def resolve_config(
    mode: str, preset: str | None = None, yaml_path: str | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """preset < YAML file < explicit overrides (``None`` values are ignored)."""
    values: dict[str, Any] = {}
    from_file: dict[str, Any] = {}
    if yaml_path:
        import yaml

        try:
            with open(yaml_path) as f:
                from_file = yaml.safe_load(f) or {}
        except OSError as exc:
            raise InputError(f"cannot read config {yaml_path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"{yaml_path} is not valid YAML: {one_line(exc)}") from None
        if not isinstance(from_file, dict):
            raise InputError(f"{yaml_path} must hold a mapping of options")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    mode = overrides.get("mode") or from_file.get("mode") or mode
    preset = overrides.get("preset") or from_file.get("preset") or preset or "paper"
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if mode not in ("pix2pix", "cyclegan"):
        raise InputError("mode must be pix2pix or cyclegan")
    values.update(PRESETS[preset][mode])
    values.update(from_file)
    values.update(overrides)
    values["mode"], values["preset"] = mode, preset
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown training option(s): {', '.join(unknown)}")
    return TrainConfig(**values).validate()
