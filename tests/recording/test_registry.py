"""The registry of recording formats: one row per format, every dispatch goes through it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chan_nb.commands import convert
from chan_nb.errors import DecodeError
from chan_nb.recording import Format, load, loads, sniff
from chan_nb.recording import formats as fm
from chan_nb.recording.reading import Reading
from tests.conftest import SAMPLE_SESSION


def test_every_format_has_one_row_and_every_suffix_one_format() -> None:
    assert set(fm.FORMATS) == set(Format)
    assert all(fmt is spec.format for fmt, spec in fm.FORMATS.items())
    suffixes = [s for spec in fm.FORMATS.values() for s in spec.suffixes]
    assert len(suffixes) == len(set(suffixes))
    for fmt, spec in fm.FORMATS.items():
        for suffix in spec.suffixes:
            assert sniff(f"session{suffix}") is fmt
            assert sniff(f"SESSION{suffix.upper()}") is fmt
        # a text format both reads and writes text; a table format neither
        assert (spec.read_text is None) == (spec.write_text is None)
    assert set(fm.TEXT_FORMATS) == {Format.MARKDOWN, Format.RENDERED, Format.JSONL}


def test_the_command_line_offers_the_registry() -> None:
    assert set(convert.CHOICES) == {fmt.value for fmt in Format}
    assert set(convert.TEXT_CHOICES) == {fmt.value for fmt in fm.TEXT_FORMATS}


def test_each_text_format_round_trips_through_its_row() -> None:
    log = load(SAMPLE_SESSION)
    for fmt in fm.TEXT_FORMATS:
        text = log.to(fmt.value)
        assert sniff(text=text) is fmt  # recognised from its content alone
        again = loads(text, fmt)
        assert [f.raw for f in again.frames] == [f.raw for f in log.frames], fmt


def test_text_like_no_format_is_read_as_the_fallback() -> None:
    assert fm.SNIFF_FALLBACK is Format.RENDERED
    assert sniff(text="initiator ---> node\n\n{}\n") is Format.RENDERED


def test_loading_and_dumping_dispatch_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = fm.FORMATS[Format.JSONL]

    def reader(text: str, *, source: str, strict: bool, decode_txs: bool) -> Reading:
        calls.append(source)
        assert real.read_text is not None
        return real.read_text(text, source=source, strict=strict, decode_txs=decode_txs)

    def writer(log: object) -> str:
        calls.append("write")
        assert real.write_text is not None
        return real.write_text(log)  # type: ignore[arg-type]

    spy = dataclasses.replace(real, read_text=reader, write_text=writer)
    monkeypatch.setitem(fm.FORMATS, Format.JSONL, spy)
    text = load(SAMPLE_SESSION).to("jsonl")
    assert len(loads(text, source="spied").frames) > 0
    assert calls == ["write", "spied"]


def test_a_table_format_has_no_text_form() -> None:
    log = load(SAMPLE_SESSION)
    with pytest.raises(ValueError, match="table format"):
        log.to("csv")
    with pytest.raises(DecodeError, match="not a text format"):
        loads("{}", "parquet")


def test_folders_are_searched_for_every_text_suffix(tmp_path: Path) -> None:
    log = load(SAMPLE_SESSION)
    for suffix in (".md", ".markdown", ".txt", ".jsonl"):
        name = "session" + suffix
        fmt = sniff(name)
        (tmp_path / name).write_text(log.to(fmt.value), encoding="utf-8")
    (tmp_path / "table.csv").write_text("", encoding="utf-8")
    (tmp_path / "README.md").write_text("# notes\n", encoding="utf-8")
    found = {p.name for p in fm.find_recordings([tmp_path])}
    assert found == {"session.md", "session.markdown", "session.txt", "session.jsonl"}
