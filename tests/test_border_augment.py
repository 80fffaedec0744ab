"""Simulated scene borders in training (``border_reflect``): what translate's reflection padding shows a border tile."""

from __future__ import annotations

import numpy as np
import pytest

from geo2map.errors import InputError
from geo2map.raster.padding import reflect_index
from geo2map.train.config import TrainConfig
from geo2map.train.data import Augment, reflect_border


def _mirror_depth(arr: np.ndarray, side: int) -> int:
    """The depth to which ``arr`` is mirrored at ``side`` (0 top, 1 left, 2 bottom, 3 right); 0 if not."""
    x = np.moveaxis(arr, 1 + side % 2, 0)
    x = x if side < 2 else x[::-1]
    n = x.shape[0]
    for d in range(n // 2 - 1, 0, -1):
        if np.array_equal(x[:d], x[2 * d : d : -1]):
            return d
    return 0


def _scene_border_tile(scene: np.ndarray, depth: int) -> np.ndarray:
    """The top-left tile translate reads when the scene's top edge lies ``depth`` rows into it."""
    rows = reflect_index(np.arange(-depth, scene.shape[1] - depth), scene.shape[1])
    return scene[:, rows]


def test_a_border_is_mirrored_as_translate_pads_a_scene() -> None:
    rng = np.random.default_rng(1)
    scene = rng.normal(size=(2, 64, 64)).astype(np.float32)
    top_only = 0
    for seed in range(40):
        a, b = reflect_border(scene, -scene, np.random.default_rng(seed))
        assert np.array_equal(b, -a)  # the same sides and depths in A and B
        depths = [_mirror_depth(a, side) for side in range(4)]
        mirrored = [s for s in range(4) if depths[s]]
        assert 1 <= len(mirrored) <= 2
        if len(mirrored) == 2:
            assert (mirrored[1] - mirrored[0]) % 2 == 1  # a corner: two adjacent sides
        if mirrored == [0]:
            d = depths[0]
            tile = _scene_border_tile(scene[:, d:], d)  # the scene's first row lies d rows down the tile
            assert np.array_equal(a[:, : tile.shape[1]], tile)
            top_only += 1
        untouched = np.ones(a.shape[1:], bool)
        for s in mirrored:
            sel = [slice(None)] * 2
            sel[s % 2] = slice(0, depths[s]) if s < 2 else slice(a.shape[1 + s % 2] - depths[s], None)
            untouched[tuple(sel)] = False
        assert np.array_equal(a[:, untouched], scene[:, untouched])
    assert top_only
    assert np.array_equal(scene, np.random.default_rng(1).normal(size=(2, 64, 64)).astype(np.float32))  # not in place


def test_border_depths_and_sides_vary() -> None:
    scene = np.random.default_rng(2).normal(size=(1, 32, 32))
    seen_sides, seen_depths = set(), set()
    for seed in range(200):
        a, _ = reflect_border(scene, None, np.random.default_rng(seed))
        for side in range(4):
            d = _mirror_depth(a, side)
            if d:
                seen_sides.add(side)
                seen_depths.add(d)
    assert seen_sides == {0, 1, 2, 3}
    assert min(seen_depths) == 1 and max(seen_depths) == 15


def test_border_reflect_zero_leaves_the_augmentation_as_it_was() -> None:
    scene = np.random.default_rng(3).normal(size=(3, 80, 80)).astype(np.float32)
    old = Augment(crop=64)(scene, scene, np.random.default_rng(7), train=True)
    new = Augment(crop=64, border_reflect=0.0)(scene, scene, np.random.default_rng(7), train=True)
    assert all(np.array_equal(x, y) for x, y in zip(old, new, strict=True))
    always = Augment(crop=64, border_reflect=1.0)
    some = [always(scene, scene, np.random.default_rng(s), train=True)[0] for s in range(5)]
    assert all(any(_mirror_depth(a, side) for side in range(4)) for a in some)
    val = Augment(crop=64, border_reflect=1.0)(scene, scene, np.random.default_rng(7), train=False)[0]
    assert not any(_mirror_depth(val, side) for side in range(4))  # validation samples stay real


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_border_reflect_must_be_a_probability(value: float) -> None:
    with pytest.raises(InputError, match="border_reflect"):
        TrainConfig(data="x", border_reflect=value).validate()
