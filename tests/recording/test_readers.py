"""Markdown and rendered readers/writers: grammar, line numbers, errors, exact round trips."""

from __future__ import annotations

import pytest

from chan_nb.errors import DecodeError
from chan_nb.recording import Direction, Kind, loads
from chan_nb.recording.markdown import read_markdown, write_markdown
from chan_nb.recording.rendered import read_rendered, write_rendered

MD = """
#### alice opens a WebSocket connection
```
ws://localhost:3014/channel?role=initiator&push_amount=1
```

#### alice <--- node
```javascript
{
  "jsonrpc": "2.0",
  "method": "channels.info",
  "params": {
    "channel_id": null,
    "data": {
      "event": "fsm_up"
    }
  },
  "version": 1
}
```

#### alice info
> first line
> second `line`

#### bob ---> node
```javascript
{"id": 0, "jsonrpc": "2.0", "method": "channels.system", "params": {"action": "ping"}}
```

#### alice closes WebSocket connection

#### alice opens a WebSocket connection
```
ws://localhost:3014/channel?existing_channel_id=ch_x&existing_fsm_id=ba_y&role=initiator
```

#### alice <--- node
```javascript
{"method": "channels.info", "params": {"channel_id": "ch_x", "data": {"event": "fsm_up"}}}
```
"""


def test_markdown_records_and_line_numbers() -> None:
    reading = read_markdown(MD)
    frames = reading.frames
    assert reading.problems == []
    assert [f.seq for f in frames] == list(range(1, 8))
    assert [f.role for f in frames] == ["alice", "alice", "alice", "bob", "alice", "alice", "alice"]
    assert [f.direction for f in frames] == [
        Direction.OPEN,
        Direction.RECEIVED,
        Direction.INFO,
        Direction.SENT,
        Direction.CLOSE,
        Direction.OPEN,
        Direction.RECEIVED,
    ]
    lines = MD.split("\n")
    for frame in frames:
        assert frame.line is not None
        assert lines[frame.line - 1].startswith("#### " + frame.role)
    assert frames[2].raw == "first line\nsecond `line`"
    assert frames[3].rpc_id == 0 and frames[3].kind is Kind.REQUEST
    assert frames[1].raw.startswith('{\n  "jsonrpc"')


def test_line_numbers_when_the_file_starts_with_a_heading() -> None:
    """Published logs start with a blank line; one without it is numbered from line 1."""
    text = MD.lstrip("\n")
    assert text.startswith("#### ")
    lines = text.split("\n")
    frames = read_markdown(text).frames
    assert frames[0].line == 1
    for frame in frames:
        assert frame.line is not None
        assert lines[frame.line - 1].startswith("#### " + frame.role)
    with pytest.raises(DecodeError, match=r"bad\.md:2"):
        read_markdown("#### alice ---> node\n{}\n", source="bad.md")


def test_connection_numbers_per_role() -> None:
    frames = read_markdown(MD).frames
    assert [f.conn for f in frames] == [1, 1, 1, 0, 1, 2, 2]  # bob never opened: 0


def test_markdown_round_trip_is_exact() -> None:
    assert write_markdown(read_markdown(MD).frames) == MD


def test_rendered_round_trip_is_exact_and_same_records() -> None:
    frames = read_markdown(MD).frames
    text = write_rendered(frames, "case_name")
    again = read_rendered(text)
    assert again.title == "case_name"
    assert again.frames == frames
    assert write_rendered(again.frames, again.title) == text
    assert text.startswith("Skip to content\n\ncase_name\n\nalice opens a WebSocket connection")
    assert not text.endswith("\n")


def test_rendered_markup_option_strips_inline_code_only_in_notes() -> None:
    frames = read_markdown(MD).frames
    page = write_rendered(frames, "t", render_markup=True)
    assert "second line" in page
    assert "second `line`" in write_rendered(frames, "t")


def test_sniffing_picks_the_reader() -> None:
    assert len(loads(MD)) == 7
    assert len(loads(write_rendered(read_markdown(MD).frames, "t"))) == 7


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("\n#### alice ---> node\n{}\n", 3, "fence"),
        (
            "\n#### alice ---> node\n```javascript\n{}\n",
            5,
            "closing ``` for the block opened at line 3",
        ),
        ("\n#### alice shouts at node\n", 2, "heading"),
        ("garbage\n#### alice closes WebSocket connection\n", 1, "heading"),
        ("\n#### alice info\nno quote\n", 3, "note"),
        ("\n#### alice closes WebSocket connection\nstray text\n", 3, "blank line"),
        ("\n#### alice <--- node\n```javascript\n{}\n```\ntrailing\n", 6, "blank line"),
        ("\n#### alice opens a WebSocket connection\n```\nws://a\nws://b\n```\n", 4, "URL"),
    ],
)
def test_malformed_markdown_names_line_and_expectation(text: str, line: int, expected: str) -> None:
    with pytest.raises(DecodeError) as info:
        read_markdown(text, source="bad.md")
    message = str(info.value)
    assert f"bad.md:{line}" in message
    assert expected in message
    lenient = read_markdown(text, source="bad.md", strict=False)
    assert [p.line for p in lenient.problems] == [line]


def test_lenient_markdown_keeps_the_readable_part() -> None:
    broken = MD.replace("#### bob ---> node\n```javascript", "#### bob ---> node\n", 1)
    with pytest.raises(DecodeError):
        read_markdown(broken)
    reading = read_markdown(broken, strict=False)
    assert len(reading.problems) == 1
    assert "fence" in str(reading.problems[0])
    assert len(reading.frames) == 6  # only the broken step is missing
    assert all(f.role == "alice" for f in reading.frames)


def test_invalid_json_in_a_frame_is_kept_as_invalid() -> None:
    text = "\n#### alice ---> node\n```javascript\n{oops\n```\n"
    frame = read_markdown(text).frames[0]
    assert frame.kind is Kind.INVALID
    assert frame.raw == "{oops"
    assert write_markdown([frame]) == text


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("Skip to content\n\nt\n\nalice ---> node\n", 6, "content"),
        ("Skip to content\n\nt\n\nalice <--- node\n\n{}\n\nnot a heading", 9, "heading"),
        ("alice opens a WebSocket connection\n\nws://a\nws://b", 3, "URL"),
    ],
)
def test_malformed_rendered_names_line_and_expectation(text: str, line: int, expected: str) -> None:
    with pytest.raises(DecodeError) as info:
        read_rendered(text, source="bad.txt")
    assert f"bad.txt:{line}" in str(info.value)
    assert expected in str(info.value)
    assert [p.line for p in read_rendered(text, strict=False).problems] == [line]


def test_rendered_without_header_reads() -> None:
    text = 'bob ---> node\n\n{"method": "channels.leave"}\n\nbob closes WebSocket connection'
    reading = read_rendered(text)
    assert reading.title is None
    assert [f.direction for f in reading.frames] == [Direction.SENT, Direction.CLOSE]
    assert write_rendered(reading.frames).startswith("Skip to content\n\nbob ---> node")


def test_role_with_space_cannot_be_written() -> None:
    frame = read_markdown(MD).frames[0]
    import dataclasses

    bad = dataclasses.replace(frame, role="two words")
    with pytest.raises(ValueError, match="one word"):
        write_markdown([bad])
