"""Open a scene for a model and load the model: cards first (no weights), bands picked by name,
weights loaded in a thread while the scene statistics are computed."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from geo2map.raster.open import RasterSource, open_raster
from geo2map.scene_checks import bands_by_name

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard
    from geo2map.models.package import LoadedModel, ModelRef

T = TypeVar("T")


def load_for_translation(model: ModelRef, source: RasterSource, device: str = "cpu") -> LoadedModel:
    """A :class:`~geo2map.models.package.LoadedModel` for ``model`` (name, path or loaded model)."""
    from geo2map.models.package import LoadedModel, load_model
    from geo2map.models.registry import IDENTITY, resolve

    if isinstance(model, LoadedModel):
        return model
    if _is_identity(model):
        return LoadedModel(_identity_card(source), None, IDENTITY)
    from geo2map.models.onnx_model import is_onnx

    path = resolve(model)
    return load_model(path, device=device if is_onnx(path) else "cpu")  # torch models move in the Translator


def _identity_card(source: RasterSource) -> ModelCard:
    from geo2map.models.registry import identity_card

    return identity_card(source.count, source.dtype, source.band_names)


def card_for_translation(model: ModelRef, source: RasterSource) -> ModelCard:
    """``model``'s card (name, path or loaded model) without loading its weights."""
    from geo2map.models.package import LoadedModel, read_card
    from geo2map.models.registry import resolve

    if isinstance(model, LoadedModel):
        return model.card
    if _is_identity(model):
        return _identity_card(source)
    return read_card(resolve(model))


def open_for_model(
    src: Any, model: ModelRef, bidx: str | Sequence[int] | None, **open_options: Any
) -> tuple[RasterSource, ModelCard]:
    """Open ``src`` and read ``model``'s card; without ``bidx``, bands are picked by name when the
    counts differ (:func:`bands_by_name`), which re-opens the raster only in that case."""
    source = open_raster(src, bidx=bidx, **open_options)
    try:
        card = card_for_translation(model, source)
        picked = bands_by_name(card, source) if bidx is None else None
        if picked:
            source.close()
            source = open_raster(src, bidx=picked, **open_options)
    except BaseException:
        source.close()
        raise
    return source, card


def load_while_fitting(
    model: ModelRef, source: RasterSource, device: str, fit: Callable[[], T]
) -> tuple[LoadedModel, T]:
    """Load ``model`` in a thread while ``fit()`` (the scene statistics) runs in the caller's.

    Importing torch and loading weights take about 2 s of one core, and the statistics
    pass (GDAL decoding, numpy quantiles) releases the GIL, so on two cores the two
    overlap. The GDAL reads stay on the calling thread, under the caller's rasterio Env
    and error handling, as in a plain sequential run. A model already loaded, or the
    identity, needs no thread. A model error is raised first, as when the two ran one
    after the other.

    Returns:
        The loaded model and what ``fit`` returned.
    """
    if not _needs_loading(model):
        return load_for_translation(model, source, device), fit()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo2map-load") as pool:
        loading = pool.submit(load_for_translation, model, source, device)
        try:
            fitted = fit()
        except BaseException:
            loading.result()  # a model error first
            raise
        return loading.result(), fitted


def _needs_loading(model: ModelRef) -> bool:
    from geo2map.models.package import LoadedModel

    return not isinstance(model, LoadedModel) and not _is_identity(model)


def _is_identity(model: ModelRef) -> bool:
    """The built-in identity (``"identity"``, unless a file of that name is there)."""
    from geo2map.models.registry import IDENTITY

    named = isinstance(model, (str, os.PathLike)) and os.fspath(model) == IDENTITY
    return named and not os.path.exists(IDENTITY)
