"""The public API: ``from chan_nb import …`` for every name in ``__all__``, loaded lazily."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import chan_nb

INIT = Path(chan_nb.__file__)


def test_every_public_name_resolves_to_its_homes_object() -> None:
    names = set(chan_nb.__all__) - {"__version__"}
    assert names == set(chan_nb._HOMES)
    for name in sorted(names):
        home = importlib.import_module(chan_nb._HOMES[name])
        assert getattr(chan_nb, name) is getattr(home, name), name
    assert {"Session", "open_pair", "EmbeddedNode", "load", "SessionLog"} <= names
    assert set(chan_nb.__all__) <= set(dir(chan_nb))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Sesion'"):
        _ = chan_nb.Sesion  # type: ignore[attr-defined]  # (mypy rejects it too)
    with pytest.raises(ImportError):
        exec("from chan_nb import Sesion", {})


def test_the_names_type_checkers_see_are_the_names_loaded_at_run_time() -> None:
    """The ``if TYPE_CHECKING`` imports (what mypy sees) match the lazy table, name by name."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            assert node.test.id == "TYPE_CHECKING"
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module is not None
                seen.update({alias.name: imp.module for alias in imp.names})
    assert seen == chan_nb._HOMES


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


HEAVY = {"pandas", "websockets", "nacl", "ipywidgets", "numpy"}


def test_importing_chan_nb_loads_nothing_heavy() -> None:
    loaded = _modules_after("import chan_nb")
    assert not HEAVY & loaded
    assert not {m for m in loaded if m.startswith("chan_nb.")}  # not even a subpackage


def test_a_name_loads_only_its_own_layer() -> None:
    # reading recordings needs neither pandas (until .df) nor a socket library
    loaded = _modules_after("from chan_nb import load, SessionLog")
    assert "chan_nb.recording" in loaded
    assert not {"pandas", "websockets", "ipywidgets"} & loaded
    assert not {m for m in loaded if m.startswith(("chan_nb.client", "chan_nb.node"))}
    # a session needs websockets and the crypto, still not pandas or the widgets
    loaded = _modules_after("from chan_nb import Session")
    assert {"websockets", "nacl"} <= loaded
    assert not {"pandas", "ipywidgets"} & loaded


def _internal_modules() -> list[str]:
    out = []
    for path in sorted(INIT.parent.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if any(line.startswith("Internal: ") for line in doc.splitlines()):
            parts = path.relative_to(INIT.parent.parent).with_suffix("").parts
            out.append(".".join(parts))
    return out


def test_internal_modules_are_marked_and_not_exported() -> None:
    internal = _internal_modules()
    assert "chan_nb.replay.normalise" in internal and "chan_nb.widgets.html" in internal
    for module in internal:
        assert module not in chan_nb._HOMES.values()
        layer_init = INIT.parent.joinpath(*module.split(".")[1:-1], "__init__.py")
        imported = {
            node.module
            for node in ast.walk(ast.parse(layer_init.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom)
        }
        assert module not in imported, f"{layer_init} re-exports the internal {module}"


#: names defined at the top of more than one module today, each with its own meaning
#: there (docs/architecture.md lists them); a new one fails the test below — give the new
#: name its own word, or import the one that exists
KNOWN_TWICE: dict[str, set[str]] = {
    "Account": {"chan_nb.codec.trees", "chan_nb.node.chain"},
    "Balances": {"chan_nb.node.offchain", "chan_nb.client.session"},
    "Call": {"chan_nb.node.events", "chan_nb.client.events"},
    "Direction": {"chan_nb.node.faults", "chan_nb.recording.frame"},
    "Kind": {"chan_nb.codec.fields", "chan_nb.recording.frame"},
    "Leave": {"chan_nb.node.events", "chan_nb.client.events"},
    "Message": {"chan_nb.node.events", "chan_nb.client.events"},
    "ROLES": {"chan_nb.client.params", "chan_nb.widgets.panel"},
    "Role": {"chan_nb.node.params", "chan_nb.client.params"},
    "apply_updates": {"chan_nb.node.offchain", "chan_nb.codec.state"},
    "state_hash": {"chan_nb.node.offchain", "chan_nb.codec.state"},
    "signed_by": {"chan_nb.node.fsm", "chan_nb.client.ledger"},
    "Action": {"chan_nb.node.core", "chan_nb.client.outcomes"},
}
#: names every module may define for itself: type variables and aliases, and the
#: ``decode``/``encode`` of a codec module (always called qualified: ``rlp.decode``)
LOCAL_NAMES = {"Json", "T", "decode", "encode", "register", "run", "main"}


def _top_level_names() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted(INIT.parent.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        module = ".".join(path.relative_to(INIT.parent.parent).with_suffix("").parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            for name in names:
                if not name.startswith("_") and name not in LOCAL_NAMES:
                    out.setdefault(name, set()).add(module)
    return out


def test_no_new_name_is_defined_twice() -> None:
    twice = {name: homes for name, homes in _top_level_names().items() if len(homes) > 1}
    new = {name: homes for name, homes in twice.items() if homes != KNOWN_TWICE.get(name)}
    assert not new, f"defined in more than one module, with different meanings: {new}"
    # the names given one meaning in issue 11 stay that way
    assert {"open_pair", "describe_tx"}.isdisjoint(twice)
