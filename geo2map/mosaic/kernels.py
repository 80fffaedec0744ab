"""The mosaicker's in-place array kernels: torch's when torch is loaded, numpy's otherwise.

Between two batches the network's thread pool is idle while the main thread blends.
torch's kernels run on that pool and fuse ``acc += w·x`` into one pass, so blending
keeps both cores busy (3x numpy's speed for a 256-px RGB tile on 2 cores,
docs/benchmarks.md). A run that never loaded torch (the identity model: its import
alone takes 2 s) keeps numpy's single-threaded kernels, and so does an accumulator in float64 (float
outputs): torch would promote a float32 tile before multiplying, numpy does not. The
two agree to float32 rounding (torch fuses the multiply-add).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _torch(*arrays: np.ndarray) -> Any:
    """The loaded torch module when the arrays are writable and all float32 or all float64 (else
    None: use numpy, whose mixed-dtype rules torch's promotion would not follow; torch also warns
    on read-only arrays)."""
    torch = sys.modules.get("torch")
    dtype = arrays[0].dtype
    if torch is None or dtype not in _FLOATS or not all(a.dtype == dtype and a.flags.writeable for a in arrays):
        return None
    return torch


def add_product(acc: np.ndarray, x: np.ndarray, w: np.ndarray, scratch: np.ndarray | None = None) -> None:
    """``acc += x * w`` in place (``w`` broadcasts over ``x``'s leading band axis).

    ``scratch`` (numpy path only): a buffer of ``x``'s shape for the product.
    """
    torch = _torch(acc, x, w)
    if torch is not None:
        torch.from_numpy(acc).addcmul_(torch.from_numpy(x), torch.from_numpy(w))
        return
    acc += np.multiply(w, x, out=scratch) if scratch is not None and scratch.dtype == acc.dtype else w * x


def add(acc: np.ndarray, x: np.ndarray) -> None:
    """``acc += x`` in place."""
    torch = _torch(acc, x)
    if torch is not None:
        torch.from_numpy(acc).add_(torch.from_numpy(x))
    else:
        acc += x


def divide(num: np.ndarray, den: np.ndarray, out: np.ndarray) -> None:
    """``out = num / den`` (``den`` broadcasts over bands)."""
    torch = _torch(num, den, out)
    if torch is not None:
        torch.div(torch.from_numpy(num), torch.from_numpy(den), out=torch.from_numpy(out))
    else:
        np.divide(num, den, out=out)


def zero(*arrays: np.ndarray) -> None:
    """Set arrays to 0 in place."""
    torch = _torch(*arrays)
    for a in arrays:
        if torch is not None:
            torch.from_numpy(a).zero_()
        else:
            a[...] = 0
