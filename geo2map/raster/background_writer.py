"""A row sink run in a background thread, so that compression overlaps computing."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import rasterio


class BackgroundWriter:
    """Run a row sink in a background thread so compression overlaps computing.

    Calls are queued (at most ``depth`` chunks wait, which bounds memory) and run
    in order; an error in the thread is raised in the caller at the next call or
    at :meth:`close`.
    """

    def __init__(self, sink: Callable[..., None], depth: int = 2) -> None:
        self._sink = sink
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="geo2map-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # rasterio's error handler for this thread too: GDAL's messages go to logging, not to stderr
        with rasterio.Env():
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if self._error is None:
                    try:
                        self._sink(*item)
                    except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                        self._error = exc

    def __call__(self, *args: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(args)

    def close(self) -> None:
        """Wait for queued rows to be written; raise the thread's error if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:  # stop quickly: drop what is queued, let the thread finish
            self._error = self._error or exc
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(None)
            self._thread.join()
