"""A batch's indexes of its outputs: footprints.gpkg and, for STAC input, outputs.stac.json."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from geo2map.batch.inputs import FOOTPRINTS, STAC_OUT, Scene


# ---------------------------------------------------------------------------
# outputs index
# ---------------------------------------------------------------------------
def _footprint(path: str) -> tuple[Any, dict[str, Any]]:
    import rasterio
    from rasterio.warp import transform_geom
    from shapely.geometry import box, shape

    with rasterio.open(path) as ds:
        geom = box(*ds.bounds)
        if ds.crs is not None:  # densified so the outline stays true after reprojection
            edge = max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1]) / 20
            geom = shape(transform_geom(ds.crs, "EPSG:4326", geom.segmentize(edge).__geo_interface__))
        attrs = {
            "crs": ds.crs.to_string() if ds.crs else "",
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0],
        }
    return geom, attrs


def write_footprints(out_dir: str, scenes: Iterable[Scene], model: str) -> str | None:
    """``OUT_DIR/footprints.gpkg``: one EPSG:4326 polygon per output, with its name, source and grid."""
    import geopandas as gpd
    from rasterio.errors import RasterioError

    rows = []
    for sc in scenes:
        dst = os.path.join(out_dir, sc.name)
        try:
            geom, attrs = _footprint(dst)
        except (OSError, RasterioError):  # a vanished output is simply not indexed
            continue
        rows.append({"name": sc.name, "path": dst, "source": sc.src, "model": model, **attrs, "geometry": geom})
    path = os.path.join(out_dir, FOOTPRINTS)
    if not rows:
        return None
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    tmp = path + ".tmp.gpkg"
    gdf.to_file(tmp, layer="footprints", driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)
    return path


def write_stac(out_dir: str, scenes: Iterable[Scene], model: str, options: dict[str, Any]) -> str:
    """``OUT_DIR/outputs.stac.json``: an ItemCollection with one item per output (STAC inputs)."""
    import pystac
    from rasterio.errors import RasterioError
    from shapely.geometry import mapping

    items = []
    for sc in scenes:
        if not sc.item:
            continue
        dst = os.path.join(out_dir, sc.name)
        try:
            geom, attrs = _footprint(dst)
        except (OSError, RasterioError):
            continue
        src_item = pystac.Item.from_dict(sc.item)
        props = {k: v for k, v in src_item.properties.items() if k != "datetime"}
        props.update({"geo2map:model": model, "geo2map:source_asset": sc.asset})
        item = pystac.Item(
            id=src_item.id,
            geometry=mapping(geom),
            bbox=list(geom.bounds),
            datetime=src_item.datetime,
            properties=props,
        )
        media = pystac.MediaType.COG if options.get("preset") == "cog" else pystac.MediaType.GEOTIFF
        item.add_asset("data", pystac.Asset(href=sc.name, media_type=media, roles=["data"], title="geo2map output"))
        self_href = src_item.get_self_href()
        if self_href:
            item.add_link(pystac.Link("derived_from", self_href, media_type=pystac.MediaType.JSON))
        items.append(item)
    path = os.path.join(out_dir, STAC_OUT)
    coll = pystac.ItemCollection(items)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(coll.to_dict(transform_hrefs=False), f, indent=1)
    os.replace(tmp, path)
    return path
