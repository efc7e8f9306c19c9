"""Binder: a fresh environment built from binder/'s files alone runs every notebook.

This does what repo2docker does, minus Docker: take a copy of the repository, make a
virtual environment with the Python that ``binder/runtime.txt`` names, install
``binder/requirements.txt`` into it, run ``binder/postBuild``, then execute the notebooks
with that environment's own ``jupyter``. The copy has no ``../shared`` next to it, as on
Binder. One environment is built per test session (it takes a minute or two).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

nbformat = pytest.importorskip("nbformat", reason="reading executed notebooks needs nbformat")
from tests.test_notebooks import NOTEBOOKS, check_outputs  # noqa: E402

pytestmark = pytest.mark.slow

BINDER = PROJECT_ROOT / "binder"
#: Not part of what Binder would see: local environments, caches, build output.
SKIP_IN_COPY = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", "*.egg-info", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".hypothesis", "build", "dist", ".ipynb_checkpoints", "node_modules", "out",
)  # fmt: skip


def runtime_python() -> tuple[str, str]:
    """The ``X.Y`` that binder/runtime.txt asks for, and an interpreter of that version."""
    text = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", text)
    assert match, f"binder/runtime.txt must read python-X.Y, not {text!r}"
    version = f"{match[1]}.{match[2]}"
    found = shutil.which(f"python{version}")
    if found is None and f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        found = sys.executable
    if found is None:
        pytest.skip(f"no python{version} on this machine to build the Binder environment with")
    return version, found


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run ``command``; its stdout and stderr (some jupyter commands report on stderr)."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return done.stdout + done.stderr


class BinderEnv:
    def __init__(self, repo: Path, venv: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.venv = venv
        self.env = env

    def run(self, *args: str, cwd: Path | None = None) -> str:
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        return run(command, cwd or self.repo, self.env)


@pytest.fixture(scope="session")
def binder(tmp_path_factory: pytest.TempPathFactory) -> BinderEnv:
    version, python = runtime_python()
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(PROJECT_ROOT, repo, ignore=SKIP_IN_COPY)
    venv = base / "venv"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("CHAN_NB_")
    }
    env["CHAN_NB_NODE_URL"] = "ws://127.0.0.1:9/channel"  # the discard port: no node (nb 5)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(base / "home")  # no user site, kernels or settings from this machine
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    run([python, "-m", "venv", str(venv)], base, env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r",
         "binder/requirements.txt"], repo, env)  # fmt: skip
    run([str(repo / "binder" / "postBuild")], repo, env)
    made = BinderEnv(repo, venv, env)
    assert made.run("python", "-c", "import sys; print(sys.version)").startswith(version)
    return made


def test_postbuild_installs_the_package_itself_not_the_checkout(binder: BinderEnv) -> None:
    # from outside the checkout, as the notebooks (in notebooks/) import it
    outside = binder.venv
    where = binder.run("python", "-c", "import chan_nb; print(chan_nb.__file__)", cwd=outside)
    assert "site-packages" in where.strip(), where
    data = binder.run(
        "python",
        "-c",
        "from importlib.resources import files; "
        "print((files('chan_nb') / 'data' / 'sc_ws_basic_client_reconnect_r.txt').is_file())",
        cwd=outside,
    )
    assert data.strip().endswith("True"), "the sample recording must ship inside the package"


def test_jupyterlab_has_the_widget_manager(binder: BinderEnv) -> None:
    listing = binder.run("jupyter", "labextension", "list")
    assert "@jupyter-widgets/jupyterlab-manager" in listing
    version = binder.run("python", "-c", "import jupyterlab; print(jupyterlab.__version__)")
    major, minor = (int(x) for x in version.strip().split(".")[:2])
    assert (major, minor) >= (4, 1), "JupyterLab 4.1+ renders the Mermaid ladders"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_the_binder_environment(binder: BinderEnv, path: Path) -> None:
    copy = binder.repo / "notebooks" / path.name
    binder.run("jupyter", "execute", "--inplace", "--timeout=300", f"notebooks/{path.name}")
    check_outputs(path.name, nbformat.read(copy, as_version=4))
