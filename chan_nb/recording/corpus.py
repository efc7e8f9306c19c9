"""Many recordings at once: load and audit a corpus with a progress bar, one DataFrame row
per session, and write it as a partitioned Parquet dataset for tools made for big data.

``load_many(paths)`` and ``audit_many(paths)`` never stop at a bad file: its row says
why it could not be read (``error``) and the rest goes on. ``write_dataset(logs, folder)``
writes the frame tables (the CSV/Parquet export schema, plus a ``session`` column) as a
Hive-partitioned dataset, ``folder/session=NAME/part-0.parquet``, which DuckDB
(``read_parquet('folder/**/*.parquet', hive_partitioning = true)``), Polars
(``scan_parquet``), Spark and pyarrow read as it is.

Progress bars come from tqdm's ``tqdm.auto``: a widget in a notebook, a text bar on a
terminal's stderr, nothing when stderr is not a terminal (``progress=None``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from chan_nb.recording.formats import find_recordings, load
from chan_nb.recording.log import SessionLog

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

#: Columns of :func:`load_many`'s table, after its ``session`` index.
LOAD_COLUMNS: Final = (
    "path",
    "records",
    "roles",
    "frames",
    "errors",
    "operations",
    "ok",
    "conflict",
    "error",
    "incomplete",
    "unread",
    "problem",
    "log",
)
#: Columns of :func:`audit_many`'s table, after its ``session`` index.
AUDIT_COLUMNS: Final = (
    "path",
    "ok",
    "network_id",
    "txs",
    "signatures_ok",
    "signatures_bad",
    "state_hashes_ok",
    "state_hashes_bad",
    "channel_ids_ok",
    "problems",
    "first_problem",
)


def progress_bar(
    items: Iterable[T], *, total: int, desc: str, progress: bool | None
) -> Iterator[T]:
    """``items`` with a tqdm bar (``progress`` True: always, False: never, None: when
    stderr is a terminal or in a notebook)."""
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, unit="file", disable=_disabled(progress))


def _disabled(progress: bool | None) -> bool | None:
    if progress is None:
        return None  # tqdm's own rule: off when the output is not a terminal
    return not progress


def session_names(paths: Sequence[Path]) -> list[str]:
    """A unique, path-safe name per recording: its stem, then ``-2``, ``-3`` … on repeats."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem) or "session"
        count = seen.get(stem, 0) + 1
        seen[stem] = count
        names.append(stem if count == 1 else f"{stem}-{count}")
    return names


def load_many(
    paths: Iterable[str | Path], *, strict: bool = True, progress: bool | None = True
) -> pd.DataFrame:
    """Read every recording under ``paths`` (files, or folders searched for ``*.md``,
    ``*.txt``, ``*.jsonl``): one row per session with its counts and operation outcomes, the
    :class:`SessionLog` in ``log`` — or, for a file that cannot be read, ``problem`` saying
    why and ``log`` None."""
    import pandas as pd

    files = find_recordings(paths)
    rows = []
    names = session_names(files)
    for name, path in progress_bar(
        zip(names, files, strict=True), total=len(files), desc="loading", progress=progress
    ):
        row: dict[str, Any] = dict.fromkeys(LOAD_COLUMNS)
        row.update(session=name, path=str(path))
        try:
            log = load(path, strict=strict)
        except Exception as exc:  # one bad file must not stop the corpus
            from chan_nb.errors import one_line

            row["problem"] = one_line(exc)
            rows.append(row)
            continue
        outcomes: dict[str, int] = {}
        for op in log.operations():
            outcomes[str(op.outcome)] = outcomes.get(str(op.outcome), 0) + 1
        row.update(
            records=len(log),
            roles=", ".join(log.roles),
            frames=sum(f.is_frame for f in log),
            errors=sum(f.error_code is not None for f in log),
            operations=sum(outcomes.values()),
            ok=outcomes.get("ok", 0),
            conflict=outcomes.get("conflict", 0),
            error=outcomes.get("error", 0),
            incomplete=outcomes.get("incomplete", 0),
            unread=len(log.problems),
            problem=str(log.problems[0]) if log.problems else None,
            log=log,
        )
        rows.append(row)
    df = pd.DataFrame(rows, columns=["session", *LOAD_COLUMNS]).set_index("session")
    for column in ("records", "frames", "errors", "operations", "ok", "conflict", "error"):
        df[column] = df[column].astype("Int64")
    for column in ("incomplete", "unread"):
        df[column] = df[column].astype("Int64")
    return df


def audit_many(
    sources: Iterable[str | Path] | pd.DataFrame,
    *,
    network_id: str | None = None,
    progress: bool | None = True,
) -> pd.DataFrame:
    """Audit every session: recording paths, or :func:`load_many`'s table (its logs are
    reused). One row per session; one that cannot be read has ``ok`` False and its reason
    in ``first_problem``."""
    import pandas as pd

    table = sources if isinstance(sources, pd.DataFrame) else load_many(sources, progress=progress)
    rows = []
    for name, path, log, problem in progress_bar(
        zip(table.index, table["path"], table["log"], table["problem"], strict=True),
        total=len(table),
        desc="auditing",
        progress=progress,
    ):
        row: dict[str, Any] = dict.fromkeys(AUDIT_COLUMNS)
        row.update(session=name, path=path)
        if log is None:
            row.update(ok=False, problems=1, first_problem=f"unreadable: {problem}")
            rows.append(row)
            continue
        report = log.audit(network_id)
        row.update(
            ok=report.ok,
            network_id=report.network_id,
            txs=report.txs,
            signatures_ok=report.signatures_ok,
            signatures_bad=report.signatures_bad,
            state_hashes_ok=report.state_hashes_ok,
            state_hashes_bad=report.state_hashes_bad,
            channel_ids_ok=report.count("channel_id", True),
            problems=len(report.problems),
            first_problem=str(report.problems[0]) if report.problems else None,
        )
        rows.append(row)
    df = pd.DataFrame(rows, columns=["session", *AUDIT_COLUMNS]).set_index("session")
    for column in AUDIT_COLUMNS[3:10]:
        df[column] = df[column].astype("Int64")
    df["ok"] = df["ok"].astype(bool)
    return df


def write_dataset(
    sessions: Iterable[SessionLog] | pd.DataFrame,
    folder: str | Path,
    *,
    overwrite: bool = False,
    progress: bool | None = True,
) -> Path:
    """Write the sessions' frame tables as one Hive-partitioned Parquet dataset.

    ``sessions``: logs (named by ``log.name``) or :func:`load_many`'s table (unreadable
    rows are skipped). The dataset is written next to ``folder`` and moved into place when
    complete, so a failed write leaves no half dataset; an existing ``folder`` is
    replaced only with ``overwrite=True``."""
    import pandas as pd

    from chan_nb.recording.table import export_df

    if isinstance(sessions, pd.DataFrame):
        logs = [log for log in sessions["log"] if log is not None]
        names = [str(n) for n, log in zip(sessions.index, sessions["log"], strict=True) if log]
    else:
        logs = list(sessions)
        names = session_names([Path(log.name or "session") for log in logs])
    target = Path(folder)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists: pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, log in progress_bar(
            zip(names, logs, strict=True), total=len(logs), desc="writing", progress=progress
        ):
            part = staging / f"session={name}"
            part.mkdir()
            export_df(log.frames, "parquet").to_parquet(part / "part-0.parquet", index=False)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
