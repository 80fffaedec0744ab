"""One process-wide lock around every GDAL call geo2map makes from its threads.

geo2map overlaps reading, computing and writing with threads. GDAL datasets are
distinct per thread, but GDAL's *global* block cache is shared: when it is full,
a thread writing one dataset may have to flush or evict blocks of a dataset
another thread is reading, and with a small cache this can deadlock (see GDAL
issues #1488, #2011, #3848). Holding this lock for each read and write keeps GDAL
single-threaded from our side (GDAL still uses its own worker threads inside a
call, e.g. NUM_THREADS compression), while numpy work runs in parallel with it.
"""

from __future__ import annotations

import threading

GDAL_LOCK = threading.RLock()
