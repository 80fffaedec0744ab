"""``geo2map qgis install``: put the Processing script into a QGIS profile."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

SCRIPT = "geo2map_translate.py"


def default_scripts_dir(profile: str = "default") -> Path:
    """The Processing scripts folder of a QGIS 3 profile on this platform."""
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "QGIS" / "QGIS3" / "profiles" / profile / "processing" / "scripts"


def script_source() -> str:
    """The QGIS Processing script's source text (a file inside the package)."""
    from importlib.resources import files

    return (files("geo2map") / "data" / SCRIPT).read_text()


@click.group(short_help="Install the QGIS Processing script.")
def qgis() -> None:
    """The QGIS front: a Processing script (script:geo2map_translate) that runs geo2map translate."""


@qgis.command("install")
@click.option("--profile", default="default", show_default=True, help="QGIS user profile.")
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False), default=None, help="Scripts folder (overrides --profile)."
)
def install(profile: str, folder: str | None) -> None:
    """Copy the script into the profile's Processing scripts folder, pointing it at this geo2map."""
    target = Path(folder) if folder else default_scripts_dir(profile)
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name.startswith("geo2map") else None
    text = script_source()
    if exe and exe.is_file():
        text = text.replace('DEFAULT_EXE = ""', f"DEFAULT_EXE = {str(exe)!r}", 1)
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{SCRIPT}.tmp"
        tmp.write_text(text)
        tmp.replace(target / SCRIPT)
    except OSError as exc:
        raise OSError(f"cannot write {target / SCRIPT}: {exc.strerror}") from None
    click.echo(f"installed {target / SCRIPT} (geo2map: {exe or 'found on PATH at run time'})")
    click.echo("restart QGIS; the algorithm is Processing Toolbox → Scripts → geo2map → Translate raster (geo2map)")
