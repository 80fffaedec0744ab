"""The repository keeps its promises: README's commands are the ones CI runs, data has licences."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    command = _bash_blocks(section)[0].strip()
    assert "pytest" in command and "requirements/test.txt" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines()


def test_readme_setup_pins_cpu_torch() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = _bash_blocks(readme.split("## Set up and quick start", 1)[1])[0]
    assert "requirements/torch-cpu.txt" in setup
    assert "torch==2.13.0" in (ROOT / "requirements" / "torch-cpu.txt").read_text()
    assert "torch-cpu.txt" in (ROOT / "requirements" / "test.txt").read_text()
    for path in re.findall(r"tests/data/[\w.]+", setup):
        assert (ROOT / path).exists(), path


def test_bundled_data_has_licences() -> None:
    notes = (ROOT / "tests" / "data" / "README.md").read_text()
    for f in (ROOT / "tests" / "data").iterdir():
        if f.suffix in {".tif", ".tiff", ".jpg", ".png", ".json"} or f.is_dir():
            assert f.name in notes, f"{f.name} has no provenance/licence note"
