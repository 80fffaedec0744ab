"""Every geo2map command line in README.md and docs/ names a real command and real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from geo2map.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines(text: str) -> list[str]:
    """``geo2map ...`` invocations in fenced bash blocks and in inline code spans."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.split(" #", 1)[0]):
                words = part.strip()
                if re.match(r"^(\S+=\S+\s+)*geo2map\s", words):
                    found.append(words[words.index("geo2map") :])
    for span in re.findall(r"`(geo2map [^`]+)`", text):
        found.append(span)
    return found


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for p in command.params:
        names.update(o for o in (*p.opts, *p.secondary_opts) if o.startswith("-"))
    return names


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = words[1:]
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest[0]
        if name.upper() == name or name not in command.commands:  # a placeholder such as COMMAND
            if "|" in name or name.upper() == name:
                return command, []
            raise AssertionError(f"{' '.join(words)}: no command {name!r}")
        command, rest = command.commands[name], rest[1:]
    return command, rest


LINES = sorted({(doc.name, line) for doc in DOCS for line in _command_lines(doc.read_text())})


def test_the_docs_show_commands() -> None:
    assert len(LINES) > 30


@pytest.mark.parametrize(("doc", "line"), LINES)
def test_documented_command_exists_with_its_options(doc: str, line: str) -> None:
    try:
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " | "))
    except ValueError:
        words = line.replace("[", " ").replace("]", " ").split()
    words = [w for w in words if w != "|"]
    command, rest = _resolve(words)
    known = _options(command)
    used = {w.split("=", 1)[0] for w in rest if re.match(r"^--?[A-Za-z]", w)}
    assert used <= known, f"{doc}: `{line}` uses {sorted(used - known)}, not options of {command.name}"
