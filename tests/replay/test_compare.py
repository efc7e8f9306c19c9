"""Replay diffs show where two frames differ, however far into the frame that is."""

from __future__ import annotations

import json

from chan_nb.recording import Frame
from chan_nb.replay.compare import compare, differing_paths, report_lines

PARTIES = {"ak_a": "initiator"}


def _frame(seq: int, message: dict[str, object]) -> Frame:
    return Frame.from_message("initiator", "received", json.dumps(message), seq=seq, conn=1)


def _update(round_: int, filler: str = "x" * 400) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "method": "channels.update",
        "params": {"data": {"a_long_field": filler, "round": round_, "state": "tx_same"}},
    }


def test_a_difference_late_in_a_long_frame_is_shown() -> None:
    recorded = [_frame(1, _update(3))]
    replayed = [_frame(1, _update(4))]
    lines = report_lines(compare(recorded, replayed, PARTIES, PARTIES))
    minus = next(line for line in lines if line.startswith("  - recorded: "))
    plus = next(line for line in lines if line.startswith("  + replay:   "))
    assert '"round":3' in minus and '"round":4' in plus  # the window holds the difference
    assert minus.startswith('  - recorded: initiator received {"jsonrpc":"2.0"')  # what it is
    assert "…" in minus and len(minus) < 200
    assert "    at params.data.round: recorded 3, replay 4" in lines


def test_differing_paths_names_each_value() -> None:
    want = 'r received {"a":{"b":[1,2,3],"c":"x"},"d":true}'
    got = 'r received {"a":{"b":[1,5,3]},"d":false,"e":null}'
    assert differing_paths(want, got) == [
        "at a.b[1]: recorded 2, replay 5",
        'at a.c: recorded "x", replay (absent)',
        "at d: recorded true, replay false",
        "at e: recorded (absent), replay null",
    ]
    assert differing_paths("r sent open x=1", "r sent open x=2") == [
        "first difference at character 15"
    ]
    many = json.dumps({f"k{i}": i for i in range(20)})
    other = json.dumps({f"k{i}": -i - 1 for i in range(20)})
    listed = differing_paths(f"r received {many}", f"r received {other}")
    assert len(listed) == 7 and listed[-1] == "… more paths differ"
