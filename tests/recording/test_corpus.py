"""Many recordings at once: load_many / audit_many tables, a Parquet dataset DuckDB reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from chan_nb.recording import audit_many, load, load_many, write_dataset
from chan_nb.recording.corpus import session_names
from tests.conftest import SAMPLE_SESSION

TEXT = SAMPLE_SESSION.read_text()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a_seed.txt").write_text(TEXT)
    (folder / "sub" / "a_seed.txt").write_text(TEXT)  # the same name twice
    (folder / "b_tampered.txt").write_text(
        TEXT.replace('"balance": 69999999999999', '"balance": 1', 1)
    )
    (folder / "c_empty.md").write_text("")
    (folder / "README.md").write_text("# not a recording\n")
    return folder


def test_load_many_is_one_row_per_session_and_goes_past_bad_files(corpus: Path) -> None:
    table = load_many([corpus], progress=False)
    assert list(table.index) == ["a_seed", "b_tampered", "c_empty", "a_seed-2"]
    seed = table.loc["a_seed"]
    log = load(SAMPLE_SESSION)
    assert seed["records"] == len(log) == 86
    assert seed["roles"] == "initiator, responder"
    outcomes = [str(op.outcome) for op in log.operations()]
    assert seed["operations"] == len(outcomes)
    assert seed["conflict"] == outcomes.count("conflict") and seed["ok"] == outcomes.count("ok")
    assert seed["log"].frames == log.frames
    empty = table.loc["c_empty"]
    assert empty["log"] is None and "expected at least one record" in empty["problem"]
    assert str(table["records"].dtype) == "Int64"


def test_audit_many_finds_the_tampered_and_the_unreadable(corpus: Path) -> None:
    loaded = load_many([corpus], progress=False)
    audit = audit_many(loaded, progress=False)
    assert audit.loc["a_seed", "ok"] and audit.loc["a_seed", "txs"] == 9
    assert audit.loc["a_seed", "signatures_ok"] == 6
    assert not audit.loc["b_tampered", "ok"] and audit.loc["b_tampered", "state_hashes_bad"] == 1
    assert "state_hash BAD" in audit.loc["b_tampered", "first_problem"]
    assert not audit.loc["c_empty", "ok"]
    assert audit.loc["c_empty", "first_problem"].startswith("unreadable: ")
    assert audit_many([corpus], progress=False).equals(audit)  # from paths alike


def test_progress_bars_show_on_request(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_many([corpus], progress=True)
    assert "loading: 100%" in capsys.readouterr().err
    load_many([corpus], progress=False)
    assert capsys.readouterr().err == ""


def test_a_dataset_duckdb_reads_as_it_is(corpus: Path, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="the duckdb extra (pip install chan-nb[duckdb])")
    loaded = load_many([corpus], progress=False)
    out = write_dataset(loaded, tmp_path / "dataset", progress=False)
    parts = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert parts == [
        "session=a_seed-2/part-0.parquet",
        "session=a_seed/part-0.parquet",
        "session=b_tampered/part-0.parquet",
    ]
    rows = duckdb.sql(
        f"SELECT session, count(*) AS records, count(*) FILTER (kind = 'error') AS errors, "
        f"max(round) AS last_round FROM read_parquet('{out}/**/*.parquet', "
        f"hive_partitioning = true) GROUP BY session ORDER BY session"
    ).fetchall()
    seed = load(SAMPLE_SESSION)
    errors = sum(f.kind == "error" for f in seed)
    last = max(f.round for f in seed if f.round is not None)
    assert (errors, last) == (4, 2)
    assert rows == [(name, 86, errors, last) for name in ("a_seed", "a_seed-2", "b_tampered")]
    # exact ints survive: JSON-RPC ids beyond 2^63 are stored as text
    ids = duckdb.sql(
        f"SELECT rpc_id FROM read_parquet('{out}/session=a_seed/*.parquet') "
        f"WHERE rpc_id IS NOT NULL ORDER BY seq LIMIT 1"
    ).fetchall()
    first = next(f.rpc_id for f in load(SAMPLE_SESSION) if f.rpc_id is not None)
    assert ids == [(str(first),)]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_dataset(loaded, out, progress=False)
    again = write_dataset([loaded.loc["a_seed", "log"]], out, overwrite=True, progress=False)
    assert sorted(p.name for p in again.iterdir()) == ["session=a_seed"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dataset")]  # no leftovers


def test_a_failed_write_leaves_no_half_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chan_nb.recording import table as table_mod

    log = load(SAMPLE_SESSION)
    calls = 0
    real = table_mod.export_df

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(table_mod, "export_df", failing)
    with pytest.raises(OSError, match="No space left"):
        write_dataset([log, log], tmp_path / "dataset", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_session_names_are_unique_and_path_safe() -> None:
    paths = [Path("a/x y.md"), Path("b/x y.md"), Path("c/../x y.txt"), Path("ä.jsonl")]
    assert session_names(paths) == ["x_y", "x_y-2", "x_y-3", "_"]
