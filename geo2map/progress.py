"""The progress callback the library's long functions accept (the CLI draws it as a bar)."""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(done, total)``: called as work items (tiles, scenes, pairs) finish; ``total`` may be None
Progress = Callable[[int, "int | None"], None]
