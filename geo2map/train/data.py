"""Training datasets: GeoTIFF pairs, tile folders, A/B folders, A|B images, unpaired folders.

Every dataset yields ``{"A": float32 (bands, h, w) in [-1, 1], "B": ..., "name": str}``.
Augmentation (random crop, flips, 90° rotations — valid for nadir imagery —
and per-band gain/offset jitter of the input) is drawn from a generator seeded
by ``(seed, epoch, index)``, so a sample's augmentation does not depend on the
order samples are drawn, on data-loader workers, or on a resumed run.

Validation splits:

* GeoTIFF pairs and tile folders are split **spatially**: tiles are grouped in
  blocks of ``split_block`` x ``split_block`` tiles, a seeded choice of blocks is
  the validation set, and training tiles that overlap any validation tile are
  dropped, so no validation pixel is ever seen in training.
* Image folders use ``valA/valB`` (or ``testA/testB``, ``val/``, ``test/``) when
  present, else a seeded hold-out of ``val_fraction`` of the files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError
from geo2map.image_io import read_image, read_image_masked

if TYPE_CHECKING:
    from geo2map.sensors import Scaling


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def match_pairs(files_a: Sequence[str], files_b: Sequence[str]) -> list[tuple[str, str]]:
    """A/B files paired by name without extension (``x.png`` in A goes with ``x.jpg`` in B)."""
    by_stem = {os.path.splitext(os.path.basename(f))[0]: f for f in files_b}
    out = []
    for f in files_a:
        stem = os.path.splitext(os.path.basename(f))[0]
        if stem in by_stem:
            out.append((f, by_stem[stem]))
    return out


def default_scaling(dtype: np.dtype) -> dict[str, Any]:
    """Scaling for an image/raster side when the config names none."""
    if np.dtype(dtype) == np.uint8:
        return {"name": "optical_u8", "params": {}}
    return {"name": "optical_reflectance", "params": {"mode": "percentile", "p_low": 1, "p_high": 99}}


# ---------------------------------------------------------------------------
# augmentation
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Augment:
    """Training-time augmentation, the same for A and B: random crops, flips, 90° rotations (and band jitter).

    ``border_reflect``: the probability that a sample shows a scene border as translate
    sees one (see :func:`reflect_border`).
    """

    crop: int | None = 256
    flip: bool = True
    rot90: bool = True
    band_jitter: float = 0.0
    border_reflect: float = 0.0

    def __call__(
        self, a: np.ndarray, b: np.ndarray | None, rng: np.random.Generator, train: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        h, w = a.shape[1:]
        if self.crop and (h > self.crop or w > self.crop):
            if train:
                y = int(rng.integers(0, h - self.crop + 1))
                x = int(rng.integers(0, w - self.crop + 1))
            else:
                y, x = (h - self.crop) // 2, (w - self.crop) // 2
            a = a[:, y : y + self.crop, x : x + self.crop]
            if b is not None:
                b = b[:, y : y + self.crop, x : x + self.crop]
        if not train:
            return np.ascontiguousarray(a), None if b is None else np.ascontiguousarray(b)
        if self.flip and rng.random() < 0.5:
            a = a[:, :, ::-1]
            b = None if b is None else b[:, :, ::-1]
        if self.flip and rng.random() < 0.5:
            a = a[:, ::-1, :]
            b = None if b is None else b[:, ::-1, :]
        if self.rot90 and a.shape[1] == a.shape[2]:
            k = int(rng.integers(0, 4))
            a = np.rot90(a, k, axes=(1, 2))
            b = None if b is None else np.rot90(b, k, axes=(1, 2))
        if self.border_reflect > 0 and rng.random() < self.border_reflect:
            a, b = reflect_border(a, b, rng)
        if self.band_jitter > 0:
            gain = 1 + rng.uniform(-self.band_jitter, self.band_jitter, (a.shape[0], 1, 1))
            offset = rng.uniform(-self.band_jitter, self.band_jitter, (a.shape[0], 1, 1))
            a = np.clip(a * gain + offset, -1, 1)
        return (
            np.ascontiguousarray(a, dtype=np.float32),
            None if b is None else np.ascontiguousarray(b, dtype=np.float32),
        )


def reflect_border(
    a: np.ndarray, b: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A scene border as translate shows it to the network, the same in A and B.

    translate pads a scene by reflection (:mod:`geo2map.raster.padding`), so a tile on
    the scene's edge holds data up to some depth and the data's mirror image beyond it.
    Here a random side (a corner, two adjacent sides, one time in four) is replaced, to
    a random depth ``d`` (1 to half the side), by the reflection about the pixel ``d``
    in. Both A and B are mirrored, so the loss asks for the true output on the real
    pixels near the mirror, from mirrored context, which is what a border tile needs.
    """
    from geo2map.raster.padding import reflect_index

    sides = [int(rng.integers(0, 4))]
    if rng.random() < 0.25:
        sides.append((sides[0] + 1 + 2 * int(rng.integers(0, 2))) % 4)  # an adjacent side
    for side in sides:
        axis = 1 + side % 2  # 0 top, 1 left, 2 bottom, 3 right
        n = a.shape[axis]
        if n < 4:
            continue
        d = int(rng.integers(1, n // 2))
        idx = d + reflect_index(np.arange(-d, n - d), n - d)  # the data starts d px in, mirrored before
        if side >= 2:
            idx = n - 1 - idx[::-1]  # the same at the far edge
        a = np.take(a, idx, axis=axis)
        b = None if b is None else np.take(b, idx, axis=axis)
    return a, b


# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------
class PairDataset:
    """Base: ``items`` are opaque per-sample keys; subclasses load ``(A, B)`` raw arrays."""

    def __init__(self, *, augment: Augment, seed: int, train: bool, load_size: int | None = None) -> None:
        self.augment = augment
        self.seed = seed
        self.train = train
        self.load_size = load_size  # resize loaded images to this square size first (image datasets)
        self.epoch = 0
        self.items: list[Any] = []
        self.scaling_a: Any = None
        self.scaling_b: Any = None
        self.bands_a: list[str] = []
        self.bands_b: list[str] = []
        self.dtype_b = "uint8"
        self.colorinterp_b: list[str] = []
        self.pixel_size_m: float | None = None

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation for ``epoch`` (so resumed runs repeat exactly)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
        """``(a_raw, a_valid, b_raw, b_valid, name)``."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        a_raw, a_valid, b_raw, b_valid, name = self.load(index)
        a = self.scaling_a.forward(a_raw, a_valid)
        b = self.scaling_b.forward(b_raw, b_valid)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        a, b = self.augment(a, b, rng, self.train)
        return {"A": torch.from_numpy(a), "B": torch.from_numpy(b), "name": name}


class RasterPairDataset(PairDataset):
    """Two co-registered rasters tiled on the fly; B is warped onto A's grid if needed."""

    def __init__(
        self,
        path_a: str,
        path_b: str,
        tiles: Sequence[Any],
        *,
        tile_size: int,
        bidx_a: str | None,
        bidx_b: str | None,
        scaling_a: Scaling,
        scaling_b: Scaling,
        augment: Augment,
        seed: int,
        train: bool,
    ) -> None:
        super().__init__(augment=augment, seed=seed, train=train)
        self.path_a, self.path_b = path_a, path_b
        self.bidx_a, self.bidx_b = bidx_a, bidx_b
        self.tile_size = tile_size
        self.items = list(tiles)
        self.scaling_a, self.scaling_b = scaling_a, scaling_b
        self._handles: tuple[int, Any, Any] | None = None

    def _open(self) -> tuple[Any, Any]:
        pid = os.getpid()
        if self._handles is None or self._handles[0] != pid:  # one handle per worker process
            from geo2map.raster.open import open_raster
            from geo2map.raster.pair import PairReader

            a = open_raster(self.path_a, bidx=self.bidx_a)
            b = PairReader(self.path_b, a, self.bidx_b, "bilinear").source
            self._handles = (pid, a, b)
        return self._handles[1], self._handles[2]

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
        a_src, b_src = self._open()
        tile = self.items[index]
        a, av = a_src.read(tile.window)
        b, bv = b_src.read(tile.window)
        return a, av, b, bv, tile.name

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = None
        return state


class FilePairDataset(PairDataset):
    """Pairs of files (A/B folders with matching names, or a tile folder)."""

    def __init__(self, pairs: Sequence[tuple[str, str]], **options: Any) -> None:
        """``options``: :class:`PairDataset`'s (augment, seed, train, load_size)."""
        super().__init__(**options)
        self.items = list(pairs)

    def _masked(self, path: str) -> tuple[np.ndarray, np.ndarray | None]:
        data, valid = read_image_masked(path)
        if self.load_size and data.shape[1:] != (self.load_size, self.load_size):
            data = _resize(data, self.load_size)
            if valid is not None:  # the mask follows the pixels it describes
                valid = _resize(valid.astype(np.uint8) * 255, self.load_size) >= 128
        return data, valid

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
        pa, pb = self.items[index]
        a, av = self._masked(pa)
        b, bv = self._masked(pb)
        if a.shape[1:] != b.shape[1:]:
            raise InputError(f"{pa} and {pb} differ in size: {a.shape[1:]} vs {b.shape[1:]}")
        return a, av, b, bv, os.path.splitext(os.path.basename(pa))[0]


class SideBySideDataset(PairDataset):
    """The pix2pix A|B format: one image holding A (left) and B (right)."""

    def __init__(self, files: Sequence[str], *, direction: str, **options: Any) -> None:
        """``options``: :class:`PairDataset`'s (augment, seed, train, load_size)."""
        super().__init__(**options)
        self.items = list(files)
        self.direction = direction

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
        path = self.items[index]
        img = read_image(path)
        w = img.shape[2] // 2
        a, b = img[:, :, :w], img[:, :, w : 2 * w]
        if self.direction == "BtoA":
            a, b = b, a
        if self.load_size:
            a, b = _resize(a, self.load_size), _resize(b, self.load_size)
        return a, None, b, None, os.path.splitext(os.path.basename(path))[0]


class UnpairedDataset(PairDataset):
    """CycleGAN: A images in order, a B image drawn at random (seeded) for each."""

    def __init__(self, files_a: Sequence[str], files_b: Sequence[str], **options: Any) -> None:
        """``options``: :class:`PairDataset`'s (augment, seed, train, load_size)."""
        super().__init__(**options)
        self.items = list(files_a)
        self.files_b = list(files_b)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        pb = (
            self.files_b[index % len(self.files_b)]
            if not self.train
            else self.files_b[int(rng.integers(0, len(self.files_b)))]
        )
        a, b = read_image(self.items[index]), read_image(pb)
        if self.load_size:
            a, b = _resize(a, self.load_size), _resize(b, self.load_size)
        return a, None, b, None, os.path.splitext(os.path.basename(self.items[index]))[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        a_raw, _, b_raw, _, name = self.load(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        a, _ = self.augment(self.scaling_a.forward(a_raw), None, rng, self.train)
        rng_b = np.random.default_rng([self.seed, self.epoch, index, 2])
        b, _ = self.augment(self.scaling_b.forward(b_raw), None, rng_b, self.train)
        return {"A": torch.from_numpy(a), "B": torch.from_numpy(b), "name": name}


def _resize(arr: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resize of (bands, h, w) to (bands, size, size), keeping the dtype."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None]
    out = F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False)[0].numpy()
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(arr.dtype)


# ---------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------
def spatial_split(tiles: Sequence[Any], val_fraction: float, block: int, seed: int) -> tuple[list[Any], list[Any]]:
    """Split tiles by blocks of ``block`` x ``block`` grid cells; drop training tiles overlapping validation."""
    if val_fraction <= 0 or len(tiles) < 2:
        return list(tiles), []
    blocks = sorted({(t.row // block, t.col // block) for t in tiles})
    if len(blocks) < 2:
        raise InputError(f"the scene holds one {block}x{block}-tile block only; lower split_block or val_fraction")
    rng = np.random.default_rng(seed)
    n_val = min(len(blocks) - 1, max(1, math.ceil(val_fraction * len(blocks))))
    chosen = {blocks[i] for i in rng.choice(len(blocks), n_val, replace=False)}
    val = [t for t in tiles if (t.row // block, t.col // block) in chosen]

    def overlaps(t: Any, v: Any) -> bool:
        return (
            t.col_off < v.col_off + v.width
            and v.col_off < t.col_off + t.width
            and t.row_off < v.row_off + v.height
            and v.row_off < t.row_off + t.height
        )

    train = [
        t for t in tiles if (t.row // block, t.col // block) not in chosen and not any(overlaps(t, v) for v in val)
    ]
    if not train:
        raise InputError("no training tile is left after the spatial split; lower val_fraction")
    return train, val


def holdout_split(items: Sequence[Any], val_fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """Split ``items`` into (train, validation) at random, reproducibly from ``seed``."""
    items = list(items)
    if val_fraction <= 0 or len(items) < 2:
        return items, []
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    n_val = max(1, int(round(val_fraction * len(items))))
    val_idx = set(order[:n_val].tolist())
    return ([x for i, x in enumerate(items) if i not in val_idx], [x for i, x in enumerate(items) if i in val_idx])
