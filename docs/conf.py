"""Sphinx configuration of chan_nb's documentation site (API reference and tutorials).

Build from the project root, so the tutorials are the notebooks themselves (no copies):

    python -m sphinx -b html -c docs . out/docs

Offline by design: no intersphinx, no remote assets; the notebooks run against the
embedded node while the site is built (``CHAN_NB_DOCS_EXECUTE=off`` renders them as
stored, without outputs, for a quick check).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "chan_nb"
author = "the chan_nb authors"
copyright = "the chan_nb authors"
root_doc = "docs/index"
include_patterns = ["docs/*.md", "notebooks/[0-9][0-9]_*.ipynb"]
exclude_patterns = ["out", ".venv", "**/.ipynb_checkpoints"]

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# the notebooks: executed at build time in their own folder (they read ../shared when present)
nb_execution_mode = os.environ.get("CHAN_NB_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_in_temp = False
nb_execution_raise_on_error = True
nb_merge_streams = True
# ladders are Mermaid text (JupyterLab draws them); Pygments has no Mermaid lexer, so the
# site shows them as plain code blocks: that is expected, not a warning
suppress_warnings = ["misc.highlighting_failure"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}

html_theme = "alabaster"
html_title = "chan_nb"
html_static_path: list[str] = []
html_theme_options = {"description": "The æternity State Channel protocol, from Jupyter"}


def _root_redirect(app: object, exception: Exception | None) -> None:
    """``index.html`` at the top of the site, leading to the real start page."""
    outdir = Path(getattr(app, "outdir", ""))
    if exception is None and getattr(getattr(app, "builder", None), "format", "") == "html":
        (outdir / "index.html").write_text(
            '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" '
            'content="0; url=docs/index.html"><a href="docs/index.html">chan_nb</a>\n'
        )


def setup(app: object) -> None:
    app.connect("build-finished", _root_redirect)  # type: ignore[attr-defined]
