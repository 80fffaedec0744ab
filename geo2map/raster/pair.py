"""The second raster of a training or evaluation pair, read on the first raster's grid."""

from __future__ import annotations

from typing import Any

from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from geo2map.errors import InputError
from geo2map.raster.open import RasterSource, open_raster


class PairReader:
    """The second raster of a pair, read on the first raster's grid."""

    def __init__(self, path: str, ref: RasterSource, bidx: Any, resampling: str) -> None:
        self.source = open_raster(path, bidx=bidx)
        ds = self.source.dataset
        same = (
            ds.crs == ref.crs
            and ds.transform.almost_equals(ref.transform)
            and ds.width == ref.width
            and ds.height == ref.height
        )
        self.warped = None
        if not same:
            if ds.crs is None or ref.crs is None:
                self.source.close()
                raise InputError(f"cannot align {path} with the source: both need a CRS")
            kw: dict[str, Any] = {
                "crs": ref.crs,
                "transform": ref.transform,
                "width": ref.width,
                "height": ref.height,
                "resampling": Resampling[resampling],
            }
            if ds.nodata is not None:
                kw["nodata"] = ds.nodata
            else:
                kw["add_alpha"] = True
            self.warped = WarpedVRT(ds, **kw)
            self.source = RasterSource(
                path=path,
                dataset=self.warped,
                indexes=self.source.indexes,
                notes=self.source.notes,
                alpha_band=ds.count + 1 if "add_alpha" in kw else None,
                _stack=[*self.source._stack, self.warped],
            )

    def close(self) -> None:
        """Close the pair raster (and its warped view)."""
        self.source.close()
