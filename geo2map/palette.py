"""Output palettes: snap a model's near-palette colours to the exact colours of its training targets.

Map renderings (sat2map) are drawn in a few flat colours: background, roads, water, parks,
buildings. A network's output is such a colour plus a little noise. A card's
``output_palette`` lists the colours (learnt from the training targets by
:func:`learn_palette`) and a distance: every output pixel within ``max_distance`` 8-bit
levels (Euclidean, over the bands) of a palette colour becomes exactly that colour; pixels
farther from all of them (edges, mixed pixels, anything the palette lacks) are kept as
they are. It is pointwise, so tiling cannot change it, and it runs after blending.

Only 8-bit outputs of 1-3 bands take a palette, of at most 64 colours, and
``max_distance`` is at most 16 levels. The decision for every possible colour is made
once, into a lookup table (16 MiB for 3 bands), so a pixel costs one table read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo2map.errors import ModelError

KEEP = 255  # lookup-table value: no palette colour is near enough
MAX_DISTANCE = 16.0  # levels: farther than that is not a near colour
MAX_COLOURS = 64


@dataclass(frozen=True, eq=False)
class Palette:
    """``colours`` (k, bands) in 8-bit levels and the snapping distance ``max_distance`` (levels)."""

    colours: np.ndarray
    max_distance: float

    @classmethod
    def from_card(cls, card: Any) -> Palette | None:
        """The card's ``output_palette``, checked; None when it has none."""
        d = card.output_palette
        if not d:
            return None
        try:
            colours = np.asarray(d["colours"], dtype=np.float64)
            dist = float(d["max_distance"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model card output_palette is malformed: {exc}") from None
        bands = card.architecture.out_bands
        if card.output_dtype != "uint8" or not 1 <= bands <= 3:
            raise ModelError("model card output_palette needs a uint8 output of 1-3 bands")
        if colours.ndim != 2 or colours.shape[1] != bands or not 1 <= len(colours) <= MAX_COLOURS:
            raise ModelError(f"model card output_palette needs 1-{MAX_COLOURS} colours of {bands} band(s)")
        if not (np.isfinite(colours).all() and colours.min() >= 0 and colours.max() <= 255):
            raise ModelError("model card output_palette colours must be 8-bit levels (0-255)")
        if not 0 < dist <= MAX_DISTANCE:
            raise ModelError(f"model card output_palette max_distance must be in (0, {MAX_DISTANCE}] levels")
        return cls(np.rint(colours), dist)

    def to_card(self) -> dict[str, Any]:
        """The card's ``output_palette`` entry."""
        return {"colours": self.colours.astype(int).tolist(), "max_distance": self.max_distance}

    def describe(self) -> str:
        """``16 colours, snapped within 10 levels``."""
        return f"{len(self.colours)} colours, snapped within {self.max_distance:g} levels"

    @property
    def _table(self) -> np.ndarray:
        """Palette index (or :data:`KEEP`) of every 8-bit colour, built on first use."""
        cached = self.__dict__.get("_lut")
        if cached is None:
            cached = _lookup_table(self.colours, self.max_distance)
            cached = np.append(cached, np.uint8(KEEP))  # index -1: a pixel with a non-finite band
            object.__setattr__(self, "_lut", cached)
        return cached

    def snap(self, rows: np.ndarray) -> np.ndarray:
        """Snap ``rows`` ((bands, ...) float output levels): in place when they are contiguous,
        so use the returned array. A pixel with a NaN (nodata) is left alone."""
        flat = rows.reshape(rows.shape[0], -1)
        key = np.zeros(flat.shape[1], np.float32)  # whole numbers < 2**24: exact in float32
        level = np.empty_like(key)
        for band in flat:
            key *= 256
            key += np.rint(np.clip(band, 0, 255, out=level), out=level)  # NaN stays NaN
        code = _colour_codes(key)
        idx = self._table[code]
        for b, band in enumerate(flat):
            np.copyto(band, self._levels[b][idx], where=idx != KEEP)
        return flat.reshape(rows.shape)

    @property
    def _levels(self) -> np.ndarray:
        """(bands, 256): band levels of palette index i (rows past the palette unused)."""
        out = np.zeros((self.colours.shape[1], 256), np.float32)
        out[:, : len(self.colours)] = self.colours.T
        return out


def _colour_codes(key: np.ndarray) -> np.ndarray:
    """``key`` (the rounded colour as one number) as table indices; a pixel with a NaN band
    gets an index whose table entry is :data:`KEEP`."""
    bad = ~np.isfinite(key)
    if bad.any():
        key[bad] = 0
    code = key.astype(np.int32)
    if bad.any():
        code[bad] = -1  # the table's last entry, set to KEEP
    return code


def _lookup_table(colours: np.ndarray, max_distance: float) -> np.ndarray:
    """uint8 palette index of the nearest colour within ``max_distance`` for each of 256**bands colours.

    Only colours inside a ball of that radius around a palette colour can snap: those
    (a few thousand per colour) are the only entries computed; the rest stay :data:`KEEP`."""
    bands = colours.shape[1]
    table = np.full(256**bands, KEEP, dtype=np.uint8)
    r = int(np.floor(max_distance))
    axis = np.arange(-r, r + 1)
    offsets = np.stack(np.meshgrid(*([axis] * bands), indexing="ij"), -1).reshape(-1, bands)
    offsets = offsets[(offsets**2).sum(1) <= max_distance**2]
    near = (colours.astype(np.int64)[:, None, :] + offsets[None]).reshape(-1, bands)
    near = np.unique(near[((near >= 0) & (near <= 255)).all(1)], axis=0)
    d = ((near[:, None, :] - colours[None].astype(np.int64)) ** 2).sum(-1)
    best = d.argmin(1)
    inside = d[np.arange(len(near)), best] <= max_distance**2
    key = np.zeros(len(near), np.int64)
    for b in range(bands):
        key = key * 256 + near[:, b]
    table[key[inside]] = best[inside]
    return table


def learn_palette(
    targets: Iterable[np.ndarray], colours: int = 16, max_distance: float = 10.0, per_image: int = 2000, seed: int = 0
) -> Palette:
    """A palette of ``colours`` colours: k-means (k-means++ start) over pixels sampled from ``targets``.

    ``targets``: 8-bit images (bands, h, w), the training targets of the model.
    """
    rng = np.random.default_rng(seed)
    sample = []
    for t in targets:
        px = np.asarray(t, dtype=np.float64).reshape(t.shape[0], -1).T
        sample.append(px[rng.choice(len(px), min(per_image, len(px)), replace=False)])
    if not sample:
        raise ModelError("no target images to learn a palette from")
    x = np.concatenate(sample)
    centres = _kmeans(x, min(colours, len(np.unique(x, axis=0))), rng)
    return Palette(np.clip(np.rint(centres), 0, 255), float(max_distance))


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 50) -> np.ndarray:
    """Lloyd's k-means with a k-means++ start."""
    c = np.empty((k, x.shape[1]))
    c[0] = x[rng.integers(len(x))]
    d = ((x - c[0]) ** 2).sum(1)
    for j in range(1, k):
        c[j] = x[rng.choice(len(x), p=d / d.sum())]
        np.minimum(d, ((x - c[j]) ** 2).sum(1), out=d)
    for _ in range(iterations):
        label = _nearest_centre(x, c)
        counts = np.bincount(label, minlength=k)
        sums = np.stack([np.bincount(label, weights=x[:, b], minlength=k) for b in range(x.shape[1])], 1)
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], c)
        if np.allclose(new, c):
            break
        c = new
    return c


def _nearest_centre(x: np.ndarray, c: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Index of each row of ``x``'s nearest row of ``c`` (|x|² - 2 x·c + |c|², a chunk at a time)."""
    c2 = (c**2).sum(1)
    return np.concatenate([(c2 - 2 * (x[i : i + chunk] @ c.T)).argmin(1) for i in range(0, len(x), chunk)])
