"""Translate whole raster archives on Dask: one scene = one task, resumable, fault-tolerant.

:func:`run_batch` is the library behind ``geo2map batch``:

* **Inputs**: folders (searched recursively for rasters), globs, text files with
  one path per line, and STAC ItemCollections or catalogs (an asset picked by key).
  Outputs mirror the input names in the output folder.
* **Dask**: an embedded ``LocalCluster`` of worker processes by default, or an
  existing cluster (``scheduler="tcp://host:8786"``). Each task runs
  :func:`~geo2map.translate.translate_raster` on one scene; the model is loaded
  once per worker process and kept. When the device is CUDA, tasks ask for a
  ``GPU`` resource (start workers with ``--resources GPU=1``).
* **Resumable**: ``OUT_DIR/geo2map-batch.sqlite`` records each scene's state and
  every completion. Outputs are written atomically and carry a fingerprint of
  (source file, model, options) in their metadata (``GEO2MAP_BATCH_KEY``): a rerun
  skips scenes whose output exists, opens and carries the right fingerprint, and
  scenes that failed before unless ``retry_failed``.
* **Isolation**: a scene that fails (unreadable, wrong bands, a worker crash that
  Dask's retries could not overcome) is recorded with its one-line error; the
  others go on. A worker killed mid-scene is replaced by Dask rescheduling the
  scene on another worker; the killed attempt's temporary file is removed.
* At the end: ``footprints.gpkg`` (one polygon per output, EPSG:4326) and, for
  STAC input, ``outputs.stac.json`` (an ItemCollection of the outputs).
"""

from geo2map.batch.inputs import FOOTPRINTS, KEY_TAG, MANIFEST, STAC_OUT, Scene, collect_inputs
from geo2map.batch.manifest import Manifest, output_is_complete
from geo2map.batch.outputs import write_footprints, write_stac
from geo2map.batch.run import BatchSummary, run_batch
from geo2map.batch.worker import translate_scene

__all__ = [
    "FOOTPRINTS",
    "KEY_TAG",
    "MANIFEST",
    "STAC_OUT",
    "BatchSummary",
    "Manifest",
    "Scene",
    "collect_inputs",
    "output_is_complete",
    "run_batch",
    "translate_scene",
    "write_footprints",
    "write_stac",
]
