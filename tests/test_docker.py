"""The Docker images install from the same requirement files as README (no Docker engine here: static checks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def _runs(dockerfile: Path) -> list[str]:
    """RUN instructions with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [ln[4:].strip() for ln in text.splitlines() if ln.startswith("RUN ")]


def _copied(dockerfile: Path) -> set[str]:
    return {
        src.rstrip("/")
        for ln in dockerfile.read_text().splitlines()
        if ln.startswith("COPY ")
        for src in ln.split()[1:-1]
    }


def _torch_pin() -> str:
    pins = [
        ln.strip()
        for ln in (ROOT / "requirements" / "torch-cpu.txt").read_text().splitlines()
        if ln.startswith("torch==")
    ]
    assert len(pins) == 1
    return pins[0]


def test_readme_installs_from_the_requirement_files() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements/torch-cpu.txt -e ." in readme
    assert "pip install -q -r requirements/test.txt -e ." in readme


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cpu"])
def test_images_install_from_the_same_requirement_files(name: str) -> None:
    dockerfile = DOCKER / name
    runs = " ".join(_runs(dockerfile))
    used = set(re.findall(r"-r\s+(requirements/\S+)", runs))
    assert used == {"requirements/torch-cpu.txt"}, used
    for req in used:
        assert (ROOT / req).is_file()
    # no second, drifting torch version: the only torch pin is read from the requirement file
    assert not re.search(r"torch[=<>~!]=?\s*\d", runs.replace("'^torch=='", "")), runs
    assert _torch_pin() == "torch==2.13.0"
    copied = _copied(dockerfile)
    assert {"requirements", "pyproject.toml", "README.md", "geo2map"} <= copied
    for src in copied:
        assert (ROOT / src).exists(), src
    assert "pip install ." in runs and "geo2map --version" in runs  # installed, and the command works


def test_gpu_image_is_cuda_runtime_and_cpu_image_uses_the_cpu_index() -> None:
    gpu = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM nvidia/cuda:\S+-runtime-\S+", gpu, re.M)
    cpu = " ".join(_runs(DOCKER / "Dockerfile.cpu"))
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu
    assert "grep -E '^torch==' requirements/torch-cpu.txt" in cpu


def test_docker_readme_shows_the_gpu_run() -> None:
    text = (DOCKER / "README.md").read_text()
    assert "docker run --gpus all -v $PWD:/data" in text
    assert "geo2map translate /data/scene.tif --model sar2rgb -o /data/out.tif" in text
