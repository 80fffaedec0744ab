"""What a batch translates: folders, globs, path lists and STAC ItemCollections or catalogs, as scenes."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geo2map.errors import Geo2MapError, InputError, one_line
from geo2map.image_io import ARCHIVE_EXT

MANIFEST = "geo2map-batch.sqlite"
FOOTPRINTS = "footprints.gpkg"
STAC_OUT = "outputs.stac.json"
KEY_TAG = "GEO2MAP_BATCH_KEY"


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
@dataclass
class Scene:
    """One input raster and where its output goes."""

    name: str  # output path relative to the output folder (also the manifest key)
    src: str  # path or GDAL-readable URL
    item: dict[str, Any] | None = None  # the STAC item (as a dict) it came from
    asset: str | None = None


def _is_raster_name(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_EXT)


def _out_name(rel: str) -> str:
    stem, ext = os.path.splitext(rel)
    return stem + ".tif" if ext.lower() != ".tif" else rel


def _stac_scenes(path: str, asset: str | None) -> list[Scene]:
    import pystac

    try:
        return _stac_items(path, asset)
    except Geo2MapError:
        raise
    except (pystac.STACError, pystac.STACTypeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a valid STAC document: {one_line(exc, 200)}") from None


def _stac_items(path: str, asset: str | None) -> list[Scene]:
    import pystac

    with open(path) as f:
        doc = json.load(f)
    if doc.get("type") == "FeatureCollection":
        items = list(pystac.ItemCollection.from_dict(doc, preserve_dict=True))
        base = os.path.dirname(os.path.abspath(path))
        for it in items:  # hrefs in a bare ItemCollection are relative to the file
            for a in it.assets.values():
                if not (os.path.isabs(a.href) or "://" in a.href):
                    a.href = os.path.normpath(os.path.join(base, a.href))
    elif doc.get("type") in ("Catalog", "Collection"):
        cat = pystac.read_file(path)
        items = list(cat.get_items(recursive=True))  # type: ignore[union-attr,attr-defined]
    elif doc.get("type") == "Feature":
        items = [pystac.Item.from_file(path)]
    else:
        raise InputError(f"{path} is JSON but not a STAC ItemCollection, Catalog, Collection or Item")
    scenes = []
    for it in items:
        key = asset or _default_asset(it)
        if key not in it.assets:
            raise InputError(
                f"STAC item {it.id} has no asset {key!r} (it has {', '.join(it.assets)}); choose one with asset=KEY"
            )
        href = it.assets[key].get_absolute_href() or it.assets[key].href
        scenes.append(Scene(name=_out_name(it.id), src=href, item=it.to_dict(), asset=key))
    return scenes


def _default_asset(item: Any) -> str:
    for key, a in item.assets.items():
        if "data" in (a.roles or []):
            return str(key)
    for key, a in item.assets.items():
        if (a.media_type or "").startswith("image/tiff") or _is_raster_name(a.href):
            return str(key)
    raise InputError(f"STAC item {item.id}: no data asset found; choose one with asset=KEY")


def collect_inputs(inputs: Sequence[str], asset: str | None = None) -> list[Scene]:
    """Expand folders, globs, lists of paths and STAC documents into scenes with unique output names."""
    scenes: list[Scene] = []
    for inp in inputs:
        if os.path.isdir(inp):
            root = os.path.abspath(inp)
            found = sorted(
                os.path.join(d, f)
                for d, _, files in os.walk(root)
                for f in files
                if _is_raster_name(f) and not f.startswith(".")
            )
            scenes += [Scene(_out_name(os.path.relpath(p, root)), p) for p in found]
        elif os.path.isfile(inp) and inp.lower().endswith(".json"):
            scenes += _stac_scenes(inp, asset)
        elif os.path.isfile(inp) and inp.lower().endswith((".txt", ".lst", ".list")):
            base = os.path.dirname(os.path.abspath(inp))
            with open(inp) as f:
                for line in f:
                    p = line.strip()
                    if p and not p.startswith("#"):
                        p = p if os.path.isabs(p) or "://" in p else os.path.join(base, p)
                        scenes.append(Scene(_out_name(os.path.basename(p)), p))
        elif os.path.isfile(inp):
            scenes.append(Scene(_out_name(os.path.basename(inp)), os.path.abspath(inp)))
        elif inp.startswith("/vsi") or "://" in inp:  # a GDAL virtual path or URL: one raster
            name = inp.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "scene"
            scenes.append(Scene(_out_name(name), inp))
        elif any(c in inp for c in "*?["):
            matches = sorted(m for m in glob.glob(inp, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"the pattern {inp!r} matches no file")
            scenes += [Scene(_out_name(os.path.basename(m)), os.path.abspath(m)) for m in matches]
        else:
            raise InputError(f"input {inp!r} is not a file, folder, glob, list of paths or STAC document")
    if not scenes:
        raise InputError("no input raster found")
    seen: dict[str, str] = {}
    for s in scenes:
        if s.name in seen and seen[s.name] != s.src:
            raise InputError(
                f"{seen[s.name]} and {s.src} would both be written to {s.name}; rename or batch them apart"
            )
        seen[s.name] = s.src
    unique = {s.name: s for s in scenes}
    return list(unique.values())
