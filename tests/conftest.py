"""Shared fixtures: the ../shared reference material, skipped cleanly when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = PROJECT_ROOT.parent / "shared"
#: the seed session, shipped as sample data (so these tests run without ../shared)
SAMPLE_SESSION = PROJECT_ROOT / "chan_nb" / "data" / "sc_ws_basic_client_reconnect_r.txt"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the calling test when it is not there."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not found: ../shared/{'/'.join(parts)} (absent checkout)")
    return path


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``shared`` skip, with the reason, when ../shared is absent."""
    if item.get_closest_marker("shared") is not None and not SHARED_DIR.exists():
        pytest.skip("reference material ../shared not found next to the project root")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder next to the project root."""
    return shared_path()


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    return shared_path("recordings")


@pytest.fixture(scope="session")
def vectors() -> dict[str, object]:
    import json

    path = shared_path("vectors", "channel_txs.json")
    data: dict[str, object] = json.loads(path.read_text())
    return data


def all_recordings() -> list[Path]:
    """Every published recording (Markdown and rendered), [] when ../shared is absent."""
    base = SHARED_DIR / "recordings"
    if not base.exists():
        return []
    return sorted(base.glob("json-rpc/**/*.md")) + sorted(base.glob("rendered/*.txt"))
