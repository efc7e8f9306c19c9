"""The CLI under a user's mistakes and hostile files: one line, a non-zero exit, no traceback;
many-file commands report each bad file and go on; strict reading in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chan_nb.cli import main
from chan_nb.errors import DecodeError
from chan_nb.recording import SessionLog, load, loads
from chan_nb.recording import reading as reading_mod
from chan_nb.recording import table as table_mod
from tests.conftest import SAMPLE_SESSION

DEEP = "[" * 100_000 + "]" * 100_000


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text
    assert len(lines) == 1, text
    return lines[0]


def _write_empty(path: Path) -> None:
    """An empty recording in the form ``path``'s suffix names."""
    if path.suffix in (".csv", ".parquet"):
        SessionLog([]).save(path)
    elif path.suffix == ".jsonl":
        SessionLog([]).save(path)  # the header line only
    else:
        path.write_text("")


@pytest.mark.parametrize("suffix", [".md", ".txt", ".jsonl", ".csv", ".parquet"])
def test_an_empty_recording_is_a_finding_in_every_format(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"empty{suffix}"
    _write_empty(path)
    with pytest.raises(DecodeError, match="expected at least one record"):
        load(path)
    lenient = load(path, strict=False)
    assert len(lenient) == 0 and [p.expected for p in lenient.problems] == ["at least one record"]
    assert main(["audit", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: UNREADABLE: " in out and "expected at least one record" in out
    assert main(["summarize", str(path)]) == 1
    assert "UNREADABLE" in _one_line(capsys.readouterr().err)


def test_non_utf8_file_is_one_line_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "photo.txt"
    bad.write_bytes(b"Skip to content\n\nx\n\xff\xd8\xff\xe0 not text")
    assert main(["summarize", str(bad)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"{bad}: UNREADABLE: {bad}:4: expected UTF-8 text, found byte 0xff")
    no_suffix = tmp_path / "blob"
    no_suffix.write_bytes(b"\x80\x81")
    assert main(["audit", str(no_suffix)]) == 1
    assert "expected UTF-8 text" in capsys.readouterr().out


def test_audit_reports_each_bad_file_goes_on_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_binary.md").write_bytes(b"\xfe\xfe")
    (tmp_path / "b_empty.txt").write_text("")
    (tmp_path / "c_good.txt").write_text(SAMPLE_SESSION.read_text())
    missing = tmp_path / "d_missing.jsonl"
    assert main(["audit", str(tmp_path), str(missing)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "Traceback" not in "\n".join(out)
    assert [line.split(": ", 2)[1] for line in out[:2]] == ["UNREADABLE", "UNREADABLE"]
    assert out[2].startswith(f"{tmp_path / 'c_good.txt'}: ok")
    assert out[3].startswith(f"{missing}: UNREADABLE: {missing}: No such file")
    assert out[-1].startswith("audit: 4 files, 9 txs, 6 signatures ok")
    assert out[-1].endswith(", 3 unreadable")


def test_summarize_many_files_ends_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.txt").write_text("")
    (tmp_path / "good.txt").write_text(SAMPLE_SESSION.read_text())
    assert main(["summarize", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "good.txt: 86 records" in captured.out
    assert captured.out.strip().splitlines()[-1] == (
        "summarize: 2 files, 1 unreadable, 0 with unread parts"
    )
    assert "bad.txt: UNREADABLE" in captured.err


def test_a_rendered_log_cut_mid_frame_is_not_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SAMPLE_SESSION.read_text()
    cut = tmp_path / "cut.txt"
    cut.write_text(text[: text.rindex('"jsonrpc"')])  # inside the last frame's JSON
    last_heading = cut.read_text().count("\n") - 3  # the heading, a blank, '{', the cut line
    with pytest.raises(DecodeError, match=r"the file ends inside one") as caught:
        load(cut)
    assert caught.value.where is not None and caught.value.where.endswith(f":{last_heading + 1}")
    assert main(["audit", str(cut)]) == 1
    assert "UNREADABLE" in capsys.readouterr().out
    target = tmp_path / "cut.jsonl"
    assert main(["convert", str(cut), "--to", "jsonl", "-o", str(target)]) == 1
    assert "the file ends inside one" in _one_line(capsys.readouterr().err)
    assert not target.exists()
    # --lenient converts the readable part and says what it left
    assert main(["convert", str(cut), "--to", "jsonl", "-o", str(target), "--lenient"]) == 1
    assert "the file ends inside one" in capsys.readouterr().err
    assert len(load(target, strict=False)) == len(load(cut, strict=False)) == 84


def _rendered(raw: str) -> str:
    return f"Skip to content\n\ncase\n\ninitiator ---> node\n\n{raw}"


def _jsonl(raw: str) -> str:
    head = {"format": "chan_nb.recording", "schema_version": 1}
    record = {
        "seq": 1,
        "role": "initiator",
        "direction": "sent",
        "conn": 1,
        "t_wall": None,
        "t_mono": None,
        "raw": raw,
    }
    return json.dumps(head) + "\n" + json.dumps(record) + "\n"


def _markdown(raw: str) -> str:
    return f"\n#### initiator ---> node\n```javascript\n{raw}\n```\n"


@pytest.mark.parametrize(
    ("fmt", "build", "line"),
    [("txt", _rendered, 5), ("jsonl", _jsonl, 2), ("md", _markdown, 2)],
)
def test_a_frame_nested_100000_deep_is_rejected_with_its_line(
    fmt: str, build: object, line: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(build)
    text = build(DEEP)
    with pytest.raises(DecodeError, match="JSON nested at most 100 deep") as caught:
        loads(text, fmt)
    assert caught.value.where == f"<string>:{line}"
    path = tmp_path / f"deep.{fmt}"
    path.write_text(text)
    for command in ("audit", "summarize"):
        assert main([command, str(path)]) == 1
        captured = capsys.readouterr()
        assert f"{path}:{line}: expected JSON nested at most 100 deep" in (
            captured.out + captured.err
        )
    assert main(["convert", str(path), "--to", "csv", "-o", str(tmp_path / "x.csv")]) == 1
    assert not (tmp_path / "x.csv").exists()
    # a frame nested less deep than the parser's limit, but deeper than a node frame can be
    mid = "[" * 150 + "]" * 150
    with pytest.raises(DecodeError, match="nested at most 100 deep"):
        loads(build(mid), fmt)
    assert loads(build("[" * 90 + "]" * 90), fmt)[0].message is not None


def test_a_huge_frame_is_rejected_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_mod, "MAX_RECORDED_FRAME_BYTES", 1000)
    big = json.dumps({"jsonrpc": "2.0", "method": "channels.message", "params": "x" * 2000})
    with pytest.raises(DecodeError, match="a frame of at most 1000 bytes") as caught:
        loads(_rendered(big), "txt")
    assert caught.value.where == "<string>:5"
    lenient = loads(_rendered(big), "txt", strict=False)
    assert [p.line for p in lenient.problems] == [5]


def test_demo_checks_where_it_writes_before_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "x.jsonl"
    assert main(["demo", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "scenario" not in captured.out  # nothing ran
    line = _one_line(captured.err)
    assert line.startswith(f"demo: cannot write the recording to {out}: no folder")
    assert main(["demo", "--out", str(tmp_path / "x.png")]) == 2
    assert "use a .jsonl, .md or .txt name" in capsys.readouterr().err


def test_a_failed_demo_keeps_the_good_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chan_nb import scenarios

    good = tmp_path / "run.jsonl"
    assert main(["demo", "--scenario", "open_transfer_close", "--out", str(good), "-q"]) == 0
    before = good.read_bytes()
    capsys.readouterr()

    real = scenarios.run_on

    async def failing(stage: scenarios.Stage, scenario: scenarios.Scenario) -> object:
        run = await real(stage, scenario)
        run.error = ConnectionResetError("the node went away")
        return run

    monkeypatch.setattr(scenarios, "run_on", failing)
    assert main(["demo", "--scenario", "open_transfer_close", "--out", str(good), "-q"]) == 1
    captured = capsys.readouterr()
    assert good.read_bytes() == before
    failed = tmp_path / "run.failed.jsonl"
    assert f"written to {failed}" in captured.out
    assert len(load(failed)) > 0
    assert "demo: the scenario failed: the node went away" in captured.err


@pytest.mark.parametrize("port", ["99999", "-1", "x"])
def test_node_port_out_of_range_is_one_line(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["node", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--port" in err.splitlines()[-1]


def test_an_unexpected_error_is_one_line_and_debug_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chan_nb.commands import summarize

    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(summarize, "run", broken)
    assert main(["summarize", str(SAMPLE_SESSION)]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("chan-nb summarize: unexpected ZeroDivisionError: division by zero")
    assert "--debug" in line
    with pytest.raises(ZeroDivisionError):
        main(["summarize", str(SAMPLE_SESSION), "--debug"])


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = load(SAMPLE_SESSION)
    target = tmp_path / "session.parquet"
    log.save(target)
    before = target.read_bytes()

    def failing(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(table_mod, "write_table", failing)
    with pytest.raises(OSError, match="No space left"):
        log.save(target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.parquet"]  # no leftovers


def test_a_table_that_is_not_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet")
    with pytest.raises(DecodeError, match="expected a parquet frame table"):
        load(fake)
    assert main(["summarize", str(fake)]) == 1
    assert "UNREADABLE" in _one_line(capsys.readouterr().err)
