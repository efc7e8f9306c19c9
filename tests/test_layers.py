"""The import layering of docs/architecture.md, checked over every module's imports (AST).

Each layer may import only the layers listed for it in :data:`ALLOWED`. The edges that
still break the rule today are listed, module by module, in :data:`KNOWN_VIOLATIONS`
(and in the document); a new one fails here. When a change removes one, delete its row.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chan_nb"
DOC = ROOT / "docs" / "architecture.md"

#: layer -> the layers it may import (its own modules always). A layer is the first
#: name under ``chan_nb`` (``chan_nb.codec.txs`` is in ``codec``; ``chan_nb.audit`` is
#: ``audit``). Layers not listed here (the package itself, cli, commands) may import any.
#: ``display`` (HTML building, imports nothing of ours) is a base any layer may use.
BASE: frozenset[str] = frozenset({"errors", "display"})
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "display": frozenset(),
    "ws_write": frozenset(),
    "transport": BASE,
    "codec": BASE,
    "protocol": BASE | {"codec"},
    "vm": BASE | {"codec"},
    "audit": BASE | {"codec", "protocol"},
    "recording": BASE | {"codec", "protocol", "audit"},
    "node": BASE | {"codec", "protocol", "transport", "vm", "ws_write"},
    "client": BASE | {"codec", "protocol", "recording", "transport", "vm", "ws_write"},
    "replay": BASE | {"client", "node", "codec", "protocol", "recording", "vm"},
    "scenarios": BASE | {"client", "node", "codec", "protocol", "recording"},
    "widgets": BASE | {"client", "node", "codec", "protocol", "recording", "replay", "audit"},
}
#: layers whose internals no other layer may reach: importers use the package's
#: ``__init__`` names only (``from chan_nb.node import EmbeddedNode``)
SEALED: frozenset[str] = frozenset({"node"})

#: (importing module, imported module) edges that break the rules today
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("chan_nb.client.pair", "chan_nb.node"),  # type of open_pair's target
        ("chan_nb.client.session", "chan_nb.node"),  # Session(node=...) connects in memory
        ("chan_nb.replay.driver", "chan_nb.node.rpc"),  # the node's own reply builders
    }
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "chan_nb" or len(parts) == 1:
        return None
    return parts[1]


def imports_of(path: Path) -> Iterator[str]:
    """Every absolute module an import statement names, at any depth (type-only too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def edges() -> set[tuple[str, str]]:
    """(importer, imported) for every chan_nb module importing another chan_nb layer."""
    out: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for imported in imports_of(path):
            if _layer(imported) not in (None, _layer(importer)):
                out.add((importer, imported))
    return out


def breaks_rule(importer: str, imported: str) -> bool:
    src, dst = _layer(importer), _layer(imported)
    if src not in ALLOWED or dst is None:
        return False
    if dst not in ALLOWED[src]:
        return True
    return dst in SEALED and imported != f"chan_nb.{dst}"


def test_the_layers_import_only_what_they_may() -> None:
    found = {edge for edge in edges() if breaks_rule(*edge)}
    new = sorted(found - KNOWN_VIOLATIONS)
    assert not new, f"imports that break the layering (docs/architecture.md): {new}"


def test_the_known_violations_are_still_rule_breaks_and_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for importer, imported in KNOWN_VIOLATIONS:
        assert breaks_rule(importer, imported), (importer, imported)
        assert f"`{importer}` → `{imported}`" in doc, (importer, imported)


def test_the_package_never_imports_the_checkout_only_folders() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        for imported in imports_of(path):
            assert imported.split(".")[0] not in {"benchmarks", "tests"}, (path.name, imported)


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("chan_nb.codec.txs", "chan_nb.client.session", True),
        ("chan_nb.protocol.frames", "chan_nb.recording", True),
        ("chan_nb.recording.log", "chan_nb.node", True),
        ("chan_nb.replay.compare", "chan_nb.node.fsm", True),  # sealed: internals
        ("chan_nb.replay.compare", "chan_nb.node", False),
        ("chan_nb.client.core", "chan_nb.protocol.methods", False),
        ("chan_nb.commands.bench", "chan_nb.node.server", False),  # the top may import all
        ("chan_nb.transport.memory", "chan_nb.node", True),  # neutral: neither side
        ("chan_nb.transport.memory", "chan_nb.client.transport", True),
        ("chan_nb.client.transport", "chan_nb.transport.memory", False),
        ("chan_nb.node.server", "chan_nb.transport.memory", False),
    ],
)
def test_the_rule_itself(importer: str, imported: str, broken: bool) -> None:
    assert breaks_rule(importer, imported) is broken


def test_the_walk_sees_imports_inside_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from chan_nb.node import EmbeddedNode\n"
        "def f():\n    import chan_nb.client.session\n"
        "from . import sibling\n",
        encoding="utf-8",
    )
    assert set(imports_of(source)) == {"typing", "chan_nb.node", "chan_nb.client.session"}
