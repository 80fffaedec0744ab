"""A batch's memory: the sqlite manifest of scene states, and what makes an output complete."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from geo2map.batch.inputs import KEY_TAG
from geo2map.errors import OutputError


# ---------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------
class Manifest:
    """SQLite record of a batch in its output folder (written by the batch process only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._errors():
            self._open()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite's errors (a full disk: "database or disk is full") as one-line output errors; a
        failed write is rolled back, so the manifest keeps its last good state."""
        try:
            yield
        except sqlite3.Error as exc:
            try:
                self.db.rollback()
            except (sqlite3.Error, AttributeError):
                pass
            raise OutputError(f"cannot update the batch manifest {self.path}: {exc}") from None

    def _open(self) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS scenes (
                name TEXT PRIMARY KEY, src TEXT, key TEXT, state TEXT, error TEXT,
                attempts INTEGER DEFAULT 0, seconds REAL, tiles INTEGER, worker TEXT, model_loads INTEGER,
                updated REAL);
            CREATE TABLE IF NOT EXISTS events (
                name TEXT, state TEXT, error TEXT, worker TEXT, seconds REAL, at REAL);
            """
        )
        self.db.commit()

    def get(self, name: str) -> dict[str, Any] | None:
        """The record of scene ``name`` (name, src, key, state, error, attempts), or None."""
        cur = self.db.execute("SELECT name, src, key, state, error, attempts FROM scenes WHERE name = ?", (name,))
        row = cur.fetchone()
        return dict(zip(("name", "src", "key", "state", "error", "attempts"), row, strict=True)) if row else None

    def set(self, name: str, src: str, key: str, state: str, **fields: Any) -> None:
        """Record scene ``name`` in ``state`` (``running``, ``done``, ``failed``, ...) with extra fields."""
        with self._errors():
            self._set(name, src, key, state, fields)

    def _set(self, name: str, src: str, key: str, state: str, fields: dict[str, Any]) -> None:
        now = time.time()
        row = self.get(name)
        attempts = (row["attempts"] if row else 0) + (1 if state == "running" else 0)
        self.db.execute(
            "INSERT OR REPLACE INTO scenes (name, src, key, state, error, attempts, seconds, tiles, worker, "
            "model_loads, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                src,
                key,
                state,
                fields.get("error"),
                attempts,
                fields.get("seconds"),
                fields.get("tiles"),
                fields.get("worker"),
                fields.get("model_loads"),
                now,
            ),
        )
        if state in ("done", "failed", "skipped"):
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                (name, state, fields.get("error"), fields.get("worker"), fields.get("seconds"), now),
            )
        self.db.commit()

    def states(self) -> dict[str, str]:
        """Scene name → state, for every recorded scene."""
        return dict(self.db.execute("SELECT name, state FROM scenes").fetchall())

    def close(self) -> None:
        """Close the database."""
        self.db.close()


# ---------------------------------------------------------------------------
# the batch (runs in the client)
# ---------------------------------------------------------------------------
def model_fingerprint(model: str) -> str:
    """A model's identity for resuming: the SHA-256 of its file (``identity`` for the identity model)."""
    from geo2map.models.registry import IDENTITY, resolve

    if model == IDENTITY:
        return IDENTITY
    path = resolve(model)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def scene_key(src: str, model_fp: str, options: dict[str, Any]) -> str:
    """What a scene's output depends on (its file's path, size and time, the model, the options), hashed."""
    try:
        st = os.stat(src)
        stamp: list[Any] = [os.path.abspath(src), st.st_size, st.st_mtime_ns]
    except OSError:
        stamp = [src]  # a URL: its name only
    blob = json.dumps([stamp, model_fp, sorted(options.items())], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def output_is_complete(dst: str, key: str) -> bool:
    """True when ``dst`` opens as a raster and was written by this batch configuration."""
    if not os.path.isfile(dst):
        return False
    try:
        import rasterio

        with rasterio.open(dst) as ds:
            return bool(ds.tags().get(KEY_TAG) == key and ds.width > 0 and ds.height > 0)
    except Exception:  # noqa: BLE001 - unreadable = not complete
        return False
