"""Sensor scaling: raw raster values to the network range [-1, 1] and back.

A scaling is a preset *name* plus JSON-serialisable *parameters* (a card stores ``to_dict()``,
:func:`scaling_from_dict` rebuilds it). Scene-dependent presets are *fitted once* on a sample
of the whole scene (:meth:`Scaling.fit_source`), never per tile.

Presets (:data:`SENSORS`): ``optical_u8``, ``optical_reflectance``, ``sar`` and ``dsm``, each
described in its class (parameters and defaults in ``defaults``) and in docs/pipeline.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from geo2map.errors import InputError


def _work_dtype(dtype: np.dtype) -> type:
    """float32 arithmetic unless the values need more than its 24-bit mantissa."""
    return np.float64 if dtype.kind in "iuf" and dtype.itemsize >= 4 and dtype != np.float32 else np.float32


def _to_unit(v: np.ndarray) -> np.ndarray:
    """[0, 1] → [-1, 1] as float32 (in place when ``v`` is a float32 temporary)."""
    v = np.clip(v, 0.0, 1.0, out=v if v.dtype.kind == "f" else None)
    v *= 2.0
    v -= 1.0
    return v.astype(np.float32, copy=False)


def _from_unit(y: np.ndarray) -> np.ndarray:
    """[-1, 1] → [0, 1], in place (``y`` is the private float array :meth:`Scaling.inverse` hands over)."""
    u = np.clip(y, -1.0, 1.0, out=y)
    u += 1.0
    u *= 0.5
    return u


def _valid_values(data: np.ndarray, valid: np.ndarray | None, band: int | None = None) -> np.ndarray:
    d = data if band is None else data[band]
    v = np.isfinite(d)
    if valid is not None:
        v &= valid if band is None or valid.ndim == 2 else valid[band]
    out = np.asarray(d[v], dtype=np.float64)
    if out.size == 0:
        raise InputError("the scene has no valid pixel to compute scaling statistics from")
    return out


@dataclass(frozen=True)
class Scaling:
    """Base class: a named, parameterised, invertible scaling."""

    params: dict[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    #: :meth:`inverse` is ``a·y + b`` per band on [-1, 1] (clipped outside): it commutes with the
    #: mosaic's weighted mean of network outputs (in [-1, 1]), which then un-scales each pixel once
    affine_inverse: ClassVar[bool] = False

    def __post_init__(self) -> None:
        merged = {**self.defaults, **self.params}
        unknown = set(merged) - set(self.defaults) - self.fitted_keys()
        if unknown:
            raise InputError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        object.__setattr__(self, "params", merged)
        self.validate()

    # -- description ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{name, params}``: what a model card stores."""
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def fitted_keys(cls) -> set[str]:
        """Parameter names filled in by :meth:`fit`."""
        return set()

    def validate(self) -> None:
        """Check parameters (raise :class:`InputError`)."""

    @property
    def halo(self) -> int:
        """Extra pixels around a tile this scaling needs (0 for pointwise scalings)."""
        return 0

    @property
    def needs_fit(self) -> bool:
        """Whether the scaling needs scene statistics (:meth:`fit`) before use."""
        return False

    # -- statistics -----------------------------------------------------
    def fit(self, data: np.ndarray, valid: np.ndarray | None = None) -> Scaling:
        """Return a copy with scene statistics computed from ``data`` (bands, h, w)."""
        return self

    def fit_source(self, source: Any, max_pixels: int = 1_000_000) -> Scaling:
        """Fit on a sample of a :class:`~geo2map.raster.open.RasterSource`'s values (:meth:`read_sample`)."""
        if not self.needs_fit:
            return self
        data, valid = source.read_sample(max_pixels)
        return self.fit(data, valid)

    # -- mapping ----------------------------------------------------------
    def forward(self, x: np.ndarray, valid: np.ndarray | None = None, aux: np.ndarray | None = None) -> np.ndarray:
        """Raw values (bands, h, w) → float32 in [-1, 1]; invalid pixels → 0."""
        x = np.asarray(x)
        x = x.astype(_work_dtype(x.dtype), copy=True)  # a private copy to compute in (tiles share a strip)
        if valid is not None:  # nodata must not enter statistics of neighbourhoods (local minimum)
            np.copyto(x, np.nan, where=~np.broadcast_to(valid, x.shape))
        y = np.asarray(self._forward(x, aux), dtype=np.float32)
        if np.isnan(np.sum(y)):  # a NaN somewhere (one pass, no mask): nodata and NaN inputs → 0
            y[np.isnan(y)] = 0.0
        return y

    def inverse(self, y: np.ndarray, *, in_place: bool = False) -> np.ndarray:
        """[-1, 1] → raw units (float32) of ``y`` ``(bands, h, w)``; with ``in_place``, a writable
        float32 ``y`` may be overwritten (the result is computed in it where the scaling allows)."""
        y = np.asarray(y, dtype=np.float32)
        private = y if in_place and y.flags.writeable else y.copy()
        return np.asarray(self._inverse(private), dtype=np.float32)

    def _forward(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _per_band(value: Any, bands: int, like: np.ndarray | None = None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.size == 1:
        arr = np.repeat(arr, bands)
    if arr.size != bands:
        raise InputError(f"scaling has {arr.size} per-band values but the data has {bands} bands")
    return arr[:, None, None] if like is None else arr[:, None, None].astype(like.dtype)


@dataclass(frozen=True)
class OpticalU8(Scaling):
    """8-bit imagery: ``x / 127.5 - 1``."""

    name: ClassVar[str] = "optical_u8"
    defaults: ClassVar[dict[str, Any]] = {}
    affine_inverse: ClassVar[bool] = True

    def _forward(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        return _to_unit(np.divide(x, 255.0, out=x))  # x: forward's private float copy

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        u = _from_unit(y)
        u *= 255.0
        return u


@dataclass(frozen=True)
class OpticalReflectance(Scaling):
    """16-bit or float reflectance. ``mode="fixed"``: stretch ``[low, high]`` DN (default 0..3000,
    reflectance 0..0.3 at scale 10 000); ``"percentile"``: per-band scene ``p_low``/``p_high``.
    ``clip=False`` stays linear beyond [-1, 1] (the identity model's lossless round trip)."""

    name: ClassVar[str] = "optical_reflectance"
    affine_inverse: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {
        "mode": "fixed",
        "low": 0.0,
        "high": 3000.0,
        "p_low": 2.0,
        "p_high": 98.0,
        "clip": True,
    }

    def validate(self) -> None:
        if self.params["mode"] not in ("fixed", "percentile"):
            raise InputError("optical_reflectance: mode must be 'fixed' or 'percentile'")
        if not 0 <= self.params["p_low"] < self.params["p_high"] <= 100:
            raise InputError("optical_reflectance: need 0 <= p_low < p_high <= 100")

    @property
    def needs_fit(self) -> bool:
        return self.params["mode"] == "percentile"

    def fit(self, data: np.ndarray, valid: np.ndarray | None = None) -> Scaling:
        if not self.needs_fit:
            return self
        lows, highs = [], []
        for b in range(data.shape[0]):
            vals = _valid_values(data, valid, b)
            lo, hi = np.percentile(vals, [self.params["p_low"], self.params["p_high"]])
            lows.append(float(lo))
            highs.append(float(hi) if hi > lo else float(lo) + 1.0)
        return replace(self, params={**self.params, "low": lows, "high": highs})

    def _forward(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        lo = _per_band(self.params["low"], x.shape[0], x)
        hi = _per_band(self.params["high"], x.shape[0], x)
        u = (x - lo) / (hi - lo)
        return _to_unit(u) if self.params["clip"] else (u * 2.0 - 1.0).astype(np.float32)

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        lo = _per_band(self.params["low"], y.shape[0], y)
        hi = _per_band(self.params["high"], y.shape[0], y)
        u = _from_unit(y) if self.params["clip"] else (np.asarray(y, dtype=np.float64) + 1.0) / 2.0
        return lo + u * (hi - lo)


@dataclass(frozen=True)
class SAR(Scaling):
    """SAR backscatter. ``input``: amplitude (GRD DN), intensity (σ⁰), db, or auto (from the scene:
    negative → dB, integers → DN, floats mostly below 5 → intensity). ``method="db"``: dB clipped to
    ``[db_min, db_max]``; ``"quantile"``: the ``linear`` value over its scene ``quantile``, clipped to 1."""

    name: ClassVar[str] = "sar"
    defaults: ClassVar[dict[str, Any]] = {
        "input": "amplitude",
        "method": "db",
        "db_min": -25.0,
        "db_max": 0.0,
        "db_offset": 0.0,
        "floor": 1e-6,
        "quantile": 0.99,
        "linear": "intensity",
        "scale": None,
    }

    def validate(self) -> None:
        p = self.params
        if p["input"] not in ("amplitude", "intensity", "db", "auto"):
            raise InputError("sar: input must be amplitude, intensity, db or auto")
        if p["method"] not in ("db", "quantile"):
            raise InputError("sar: method must be db or quantile")
        if p["linear"] not in ("intensity", "amplitude"):
            raise InputError("sar: linear must be intensity or amplitude")
        if not p["db_min"] < p["db_max"]:
            raise InputError("sar: db_min must be below db_max")
        if not 0 < p["quantile"] <= 1:
            raise InputError("sar: quantile must be in (0, 1]")

    @property
    def needs_fit(self) -> bool:
        return self.params["method"] == "quantile" or self.params["input"] == "auto"

    @staticmethod
    def detect_input(data: np.ndarray, valid: np.ndarray | None = None) -> str:
        """What a Sentinel-1 raster holds: ``db`` (many negative values), ``amplitude``
        (integers: GRD digital numbers; or floats with a 99% quantile above 5, e.g. SLC
        ``|z|``) or ``intensity`` (calibrated σ⁰/γ⁰ linear: floats, almost all below 5)."""
        vals = _valid_values(data, valid)
        if (vals < 0).mean() > 0.01:
            return "db"
        if np.dtype(data.dtype).kind in "iu":
            return "amplitude"
        return "intensity" if float(np.quantile(vals, 0.99)) <= 5.0 else "amplitude"

    def intensity(self, x: np.ndarray) -> np.ndarray:
        """Input units → linear intensity (σ⁰-like)."""
        kind = self.params["input"]
        if kind == "auto":
            raise InputError("sar scaling with input 'auto' is not fitted: call fit_source() on the scene first")
        if kind == "amplitude":
            return np.square(x)
        if kind == "db":
            with np.errstate(over="ignore"):  # absurd dB values become inf, then clip
                return np.power(10.0, x / 10.0)
        return x

    def _from_intensity(self, i: np.ndarray) -> np.ndarray:
        kind = self.params["input"]
        if kind == "amplitude":
            return np.sqrt(np.maximum(i, 0.0))
        if kind == "db":
            return 10.0 * np.log10(np.maximum(i, self.params["floor"]))
        return i

    def _linear(self, x: np.ndarray) -> np.ndarray:
        """Input units → the quantile method's linear value (no square-root round trip when equal)."""
        if self.params["input"] == self.params["linear"]:
            return x
        i = self.intensity(x)
        return np.sqrt(np.maximum(i, 0.0)) if self.params["linear"] == "amplitude" else i

    def fit(self, data: np.ndarray, valid: np.ndarray | None = None) -> Scaling:
        if not self.needs_fit:
            return self
        if self.params["input"] == "auto":
            detected = replace(self, params={**self.params, "input": self.detect_input(data, valid)})
            return detected.fit(data, valid) if detected.needs_fit else detected
        scales = []
        for b in range(data.shape[0]):
            lin = self._linear(_valid_values(data, valid, b))
            q = float(np.quantile(lin, self.params["quantile"]))
            scales.append(q if q > 0 else 1.0)
        return replace(self, params={**self.params, "scale": scales})

    def _forward(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        p = self.params
        if p["method"] == "db":
            i = self.intensity(x)
            db = 10.0 * np.log10(np.maximum(i, p["floor"])) + p["db_offset"]
            return _to_unit((db - p["db_min"]) / (p["db_max"] - p["db_min"]))
        if p["scale"] is None:
            raise InputError("sar quantile scaling is not fitted: call fit_source() on the scene first")
        lin = self._linear(x)  # x: forward's private float copy, so lin may be divided in place
        return _to_unit(np.divide(lin, _per_band(p["scale"], x.shape[0], x), out=lin))

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        p = self.params
        u = _from_unit(y)
        if p["method"] == "db":
            db = p["db_min"] + u * (p["db_max"] - p["db_min"]) - p["db_offset"]
            i = np.power(10.0, db / 10.0)
        else:
            lin = u * _per_band(p["scale"], y.shape[0], y)
            i = np.square(lin) if p["linear"] == "amplitude" else lin
        return self._from_intensity(i)


@dataclass(frozen=True)
class DSM(Scaling):
    """Heights, clipped to ``[0, max_height]``: above the scene's ``p_low`` percentile (``scene_min``),
    a moving minimum of ``radius`` px (``local_min``; tiles read with :attr:`halo`), or a DTM (``dtm``)."""

    name: ClassVar[str] = "dsm"
    defaults: ClassVar[dict[str, Any]] = {
        "method": "scene_min",
        "max_height": 50.0,
        "p_low": 1.0,
        "radius": 32,
        "base": None,
    }

    def validate(self) -> None:
        p = self.params
        if p["method"] not in ("scene_min", "local_min", "dtm"):
            raise InputError("dsm: method must be scene_min, local_min or dtm")
        if not p["max_height"] > 0:
            raise InputError("dsm: max_height must be > 0")

    @property
    def needs_fit(self) -> bool:
        return self.params["method"] == "scene_min"

    @property
    def halo(self) -> int:
        return int(self.params["radius"]) if self.params["method"] == "local_min" else 0

    def fit(self, data: np.ndarray, valid: np.ndarray | None = None) -> Scaling:
        if not self.needs_fit:
            return self
        base = [float(np.percentile(_valid_values(data, valid, b), self.params["p_low"])) for b in range(data.shape[0])]
        return replace(self, params={**self.params, "base": base})

    def reference(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        method = self.params["method"]
        if method == "scene_min":
            if self.params["base"] is None:
                raise InputError("dsm scene_min scaling is not fitted: call fit_source() first")
            return _per_band(self.params["base"], x.shape[0])
        if method == "dtm":
            if aux is None:
                raise InputError("dsm method 'dtm' needs the DTM on the same grid (aux)")
            return np.asarray(aux, dtype=np.float64)
        from scipy.ndimage import minimum_filter

        r = int(self.params["radius"])
        filled = np.where(np.isfinite(x), x, np.inf)
        return minimum_filter(filled, size=(1, 2 * r + 1, 2 * r + 1), mode="nearest")

    def _forward(self, x: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
        h = x - self.reference(x, aux)
        return _to_unit(h / self.params["max_height"])

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        """Height above the reference; plus the scene base for ``scene_min``."""
        h = _from_unit(y) * self.params["max_height"]
        if self.params["method"] == "scene_min" and self.params["base"] is not None:
            h = h + _per_band(self.params["base"], y.shape[0])
        return h


SENSORS: dict[str, type[Scaling]] = {cls.name: cls for cls in (OpticalU8, OpticalReflectance, SAR, DSM)}


def get_scaling(name: str, **params: Any) -> Scaling:
    """Build a preset by name, e.g. ``get_scaling("sar", input="db", method="db")``."""
    try:
        cls = SENSORS[name]
    except KeyError:
        raise InputError(f"unknown sensor scaling {name!r}; choose one of {', '.join(SENSORS)}") from None
    return cls(params=params)


def scaling_from_dict(d: dict[str, Any]) -> Scaling:
    """Inverse of :meth:`Scaling.to_dict`."""
    if not isinstance(d, dict) or "name" not in d:
        raise InputError("a scaling must be a mapping with a 'name'")
    return get_scaling(d["name"], **dict(d.get("params") or {}))
