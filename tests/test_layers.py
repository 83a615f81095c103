"""The layering of STYLE.md: a pure core with thin shells around it."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import streams

ROOT = Path(__file__).resolve().parents[1]
CORE_MODULES = sorted(f"streams.{m.name}" for m in pkgutil.iter_modules(streams.__path__))


def test_core_imports_without_kafka_faust_or_websockets() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'faust', 'aiokafka', 'websockets', 'mode', 'agents', 'wallboard', 'prometheus_client'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def called_names(path: Path) -> set[str]:
    calls = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                calls.add(f"{owner.id}.{node.func.attr}")
    return calls


@pytest.mark.parametrize("path", sorted((ROOT / "streams").glob("*.py")), ids=lambda p: p.name)
def test_core_module_reads_no_clock(path: Path) -> None:
    clocks = {
        "time.time",
        "time.monotonic",
        "time.time_ns",
        "datetime.now",
        "datetime.utcnow",
        "date.today",
    }
    assert not called_names(path) & clocks


@pytest.mark.parametrize(
    "path",
    sorted(
        p for package in ("streams", "config", "wallboard") for p in (ROOT / package).rglob("*.py")
    ),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nothing_but_the_command_line_imports_the_faust_layer(path: Path) -> None:
    assert not {n for n in imported_names(path) if n == "agents" or n.startswith("agents.")}
