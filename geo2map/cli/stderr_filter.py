"""Drop libtiff's own I/O error lines from stderr; keep everything else byte for byte.

On a full disk, libtiff prints ``_tiffWriteProc: No space left on device.`` to file
descriptor 2 for every failed block, bypassing GDAL's and Python's error handlers.
geo2map already turns the failure into one clear line, so the CLI routes fd 2
through a pipe whose reader thread forwards all bytes except those lines.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: a line libtiff's default handler prints for a failed read, write or seek of the file itself
DROPPED = re.compile(rb"^_tiff\w*Proc: [^\n]*\n")

_terminal: dict[str, Any] = {"tty": None, "columns": 80}


def stderr_is_terminal() -> bool:
    """Whether the user's stderr is a terminal (as it was before :func:`libtiff_lines_dropped`)."""
    tty = _terminal["tty"]
    return bool(sys.stderr.isatty() if tty is None else tty)


def terminal_columns() -> int:
    """The terminal's width as it was when the command started."""
    return int(_terminal["columns"]) if _terminal["tty"] is not None else shutil.get_terminal_size().columns


def _forward(read_fd: int, write_fd: int) -> None:
    pending = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        pending += chunk
        out = []
        while pending:
            if pending.startswith(b"_"):  # may be a libtiff line: wait for its end
                end = pending.find(b"\n")
                if end < 0:
                    break
                line, pending = pending[: end + 1], pending[end + 1 :]
                if not DROPPED.match(line):
                    out.append(line)
                continue
            cut = pending.find(b"\n_")
            if cut < 0:
                out.append(pending)  # progress bars (\r, no newline) pass at once
                pending = b""
            else:
                out.append(pending[: cut + 1])
                pending = pending[cut + 1 :]
        if out:
            os.write(write_fd, b"".join(out))
    if pending:
        os.write(write_fd, pending)


@contextmanager
def libtiff_lines_dropped() -> Iterator[None]:
    """Run the block with fd 2 filtered (a no-op where fd 2 cannot be replaced)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    _terminal.update(tty=os.isatty(saved), columns=shutil.get_terminal_size().columns)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_forward, args=(read_fd, saved), daemon=True, name="geo2map-stderr")
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer in this process closes: the reader sees its end
        thread.join(timeout=5)  # child processes (Dask workers) may still hold it: never hang on them
        os.close(saved)
        if not thread.is_alive():
            os.close(read_fd)
        _terminal.update(tty=None)
