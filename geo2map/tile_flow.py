"""Tiles through the card's scaling, the network and un-scaling, counted for progress.

:class:`TileFlow` is the middle of :func:`~geo2map.translate.translate_raster`'s
pipeline: it reads the tiles of one column stripe (in a thread, via
:func:`~geo2map.raster.tile_reader.iter_tiles`), scales them with the statistics
fitted on the whole scene, runs them through the :class:`~geo2map.inference.Translator`
in batches and un-scales the network's output, for the streaming mosaicker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError
from geo2map.mosaic.stream import count_tiles
from geo2map.palette import Palette
from geo2map.progress import Progress
from geo2map.raster.tile_reader import TileStream, iter_tiles
from geo2map.raster.tiling import Tile, TileGrid

if TYPE_CHECKING:
    from geo2map.inference import Translator
    from geo2map.models.card import ModelCard
    from geo2map.sensors import Scaling
    from geo2map.translate import TranslateResult


class TileFlow:
    """Tiles of one column stripe through scaling, the network and un-scaling, counted for progress."""

    def __init__(
        self,
        src: Any,
        card: ModelCard,
        grid: TileGrid,
        reader: Any,
        in_scaling: Scaling,
        out_scaling: Scaling,
        translator: Translator,
        progress: Progress | None,
        max_stripe_width: int,
        palette: bool = True,
    ) -> None:
        self.src, self.card, self.grid, self.reader = src, card, grid, reader
        self.in_scaling, self.out_scaling, self.translator = in_scaling, out_scaling, translator
        self.progress = progress
        # on integers the identity model's scaling pair is exactly the identity: skip both halves
        self.lossless = card.task == "identity" and np.dtype(card.output_dtype).kind in "iu"
        # an affine un-scaling commutes with blending: the mosaic applies it once per output pixel
        # (``finish``) instead of to each of the tiles covering it (4 at half-tile overlap)
        self.unscale_rows = not self.lossless and out_scaling.affine_inverse
        # a palette snaps the blended output, after the un-scaling (geo2map.palette)
        self.palette = Palette.from_card(card) if palette else None
        self.finish = self._finish if self.unscale_rows or self.palette else None
        self.total = count_tiles(grid, max_stripe_width)
        self.counts = {"translated": 0, "skipped": 0}
        self._lock = threading.Lock()
        self._reported = -1

    def result(
        self, dst: str, seconds: float, translator: Translator, in_scaling: Scaling, ql: str | None, notes: list[str]
    ) -> TranslateResult:
        """What the run did, for :func:`translate_raster` to return."""
        from geo2map.translate import TranslateResult

        return TranslateResult(
            path=dst,
            model=self.card.name,
            tiles=self.total,
            translated=self.counts["translated"],
            skipped=self.counts["skipped"],
            seconds=seconds,
            device=str(translator.device),
            precision=translator.precision,
            input_scaling=in_scaling.to_dict(),
            quicklook=ql,
            notes=notes,
        )

    def _finish(self, rows: np.ndarray) -> np.ndarray:
        if self.unscale_rows:
            rows = self.out_scaling.inverse(rows, in_place=True)
        return self.palette.snap(rows) if self.palette else rows

    def _skipped(self, _: Tile) -> None:  # called from the reading thread
        with self._lock:
            self.counts["skipped"] += 1

    def report(self, done: int | None = None) -> None:
        """Progress, each count once (the final one included)."""
        done = self.counts["translated"] + self.counts["skipped"] if done is None else done
        if self.progress and done != self._reported:
            self._reported = done
            self.progress(done, self.total)

    def _scaled(self, cols: list[int]) -> Iterator[tuple[tuple[Tile, np.ndarray | None], np.ndarray]]:
        halo, size = self.in_scaling.halo, self.grid.size
        # a pointwise scaling runs once per source pixel, on each strip as it is read, instead of
        # on each of the tiles covering the pixel (4 at half-tile overlap); the same values
        per_strip = not self.lossless and not halo
        reader: Any = _ScaledReader(self.reader, self.in_scaling) if per_strip else self.reader
        for tile, data, valid in iter_tiles(reader, self.grid, tile_cols=cols, halo=halo, on_skip=self._skipped):
            x = data if self.lossless or per_strip else self.in_scaling.forward(data, valid)
            if halo:
                inner = (slice(None), slice(halo, halo + size), slice(halo, halo + size))
                x = np.ascontiguousarray(x[inner])
                valid = None if valid is None else valid[inner]
            yield (tile, valid), x

    def tiles(self, columns: tuple[int, int]) -> TileStream:
        for (tile, valid), y in self.translator(self._scaled(self.grid.tiles_in_columns(*columns))):
            raw = self.lossless or self.unscale_rows
            yield tile, (y if raw else self.out_scaling.inverse(y, in_place=True)), valid  # y: ours
            self.counts["translated"] += 1
            self.report()
        self.report()
        if columns[1] == self.grid.width and not self.counts["translated"] and self.card.task != "identity":
            raise InputError(f"{self.src} has no valid pixel (all nodata in the bands used): nothing to translate")


class _ScaledReader:
    """A reader (``read(window) -> (data, valid)``) whose data come through a pointwise scaling."""

    def __init__(self, reader: Any, scaling: Scaling) -> None:
        self.reader, self.scaling = reader, scaling

    def __getattr__(self, name: str) -> Any:  # height, block_shape, row_origin, ...
        return getattr(self.reader, name)

    def read(self, window: Any) -> tuple[np.ndarray, np.ndarray | None]:
        data, valid = self.reader.read(window)
        return self.scaling.forward(data, valid), valid
