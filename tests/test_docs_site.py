"""The documentation site builds offline, warning-free, with the API reference drawn from
the docstrings and every tutorial notebook as a page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytest.importorskip("sphinx", reason="the docs extra (pip install -e '.[docs]')")
pytest.importorskip("myst_nb", reason="the docs extra (pip install -e '.[docs]')")

pytestmark = pytest.mark.slow


def test_the_site_builds_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "site"
    # the notebooks are executed by tests/test_notebooks.py; here they render as stored
    env = {**os.environ, "CHAN_NB_DOCS_EXECUTE": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-c", "docs", "-W", "--keep-going",
         "-q", ".", str(out), "-d", str(tmp_path / "doctrees")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "url=docs/index.html" in (out / "index.html").read_text()
    api = (out / "docs" / "api.html").read_text()
    for anchor in (
        "chan_nb.recording.corpus.load_many",
        "chan_nb.recording.corpus.audit_many",
        "chan_nb.recording.corpus.write_dataset",
        "chan_nb.recording.SessionLog",
        "chan_nb.tap.Tap",
        "chan_nb.client.open_pair",
    ):
        assert f'id="{anchor}"' in api, anchor
    assert "one row per session" in api  # load_many's docstring, rendered
    pages = sorted(p.name for p in (out / "notebooks").glob("*.html"))
    stored = sorted(p.stem + ".html" for p in (PROJECT_ROOT / "notebooks").glob("0*.ipynb"))
    assert pages == stored
    quick = (out / "notebooks" / "01_quickstart.html").read_text()
    assert "open_pair" in quick
    # offline: nothing on any page is loaded from another host
    for page in out.rglob("*.html"):
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://[^"]+"', page.read_text())
        assert remote == [], (page.name, remote[:2])
