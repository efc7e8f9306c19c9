"""Every shared recording replays on the embedded node exactly, or is in docs/replay-results.md.

The table in the docs names each recording that still differs and why; this test keeps it
honest both ways: an unlisted recording must replay with 0 differences to its end, and a
listed one must still differ (remove it from the table when it no longer does).
"""

from __future__ import annotations

import asyncio

import pytest

from chan_nb.replay.compare import compare
from chan_nb.replay.driver import replay
from tests.conftest import PROJECT_ROOT, SHARED_DIR

pytestmark = pytest.mark.shared

RECORDINGS = SHARED_DIR / "recordings" / "json-rpc"
TABLE = PROJECT_ROOT / "docs" / "replay-results.md"


def _listed() -> set[str]:
    """The paths of the table's fenced list (first word of each line)."""
    text = TABLE.read_text(encoding="utf-8").split("## Every listed recording", 1)[1]
    block = text.split("```", 2)[1]
    return {line.split()[0] for line in block.splitlines() if line.strip()}


def _all() -> list[str]:
    if not RECORDINGS.exists():
        return []
    return sorted(str(p.relative_to(RECORDINGS)) for p in RECORDINGS.rglob("*.md"))


def test_the_table_names_only_real_recordings() -> None:
    listed = _listed()
    assert len(listed) == 14
    assert listed <= set(_all())


@pytest.mark.parametrize("name", _all())
def test_replays_exactly_unless_listed(name: str) -> None:
    result = asyncio.run(replay(RECORDINGS / name, memory=True))
    comparison = compare(
        result.recorded,
        result.replayed,
        result.recorded_parties,
        result.replayed_parties,
        result.plan.aliases,
    )
    exact = comparison.ok and result.stopped is None
    if name in _listed():
        assert not exact, f"{name} now replays exactly: remove it from {TABLE.name}"
    else:
        assert exact, (comparison.summary_line(), result.stopped, result.notes)
