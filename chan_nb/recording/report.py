"""Plain-text summaries of a session (the ``chan-nb summarize`` output)."""

from __future__ import annotations

from collections import Counter

from chan_nb.recording.log import SessionLog


def summary_text(log: SessionLog, *, frames: bool = False, ops: bool = False) -> str:
    """Counts by role, kind and method; operations by kind and outcome; unread parts."""
    counts = log.counts()
    label = log.source or log.name or "session"
    lines = [f"{label}: {len(log)} records, roles {', '.join(log.roles) or '-'}"]
    for key in ("role", "kind", "method"):
        shown = ", ".join(f"{name} {n}" for name, n in counts[key].most_common())
        lines.append(f"  {key + 's':<8} {shown or '-'}")
    operations = log.operations()
    by_kind: dict[str, Counter[str]] = {}
    for op in operations:
        by_kind.setdefault(op.kind, Counter())[str(op.outcome)] += 1
    lines.append(f"  operations {len(operations)}")
    for kind, outcomes in sorted(by_kind.items(), key=lambda kv: -sum(kv[1].values())):
        detail = ", ".join(f"{outcome} {n}" for outcome, n in outcomes.most_common())
        lines.append(f"    {kind:<22} {detail}")
    if log.problems:
        lines.append(f"  unread   {len(log.problems)}")
        lines += [f"    {problem}" for problem in log.problems]
    if ops:
        lines.append("  operation list:")
        for op in operations:
            end = f"#{op.end_seq}" if op.end_seq is not None else "-"
            extra = f" round {op.round}" if op.round is not None else ""
            why = f" ({op.detail})" if op.detail else ""
            lines.append(
                f"    op{op.op_id} {op.kind} by {op.starter}: {op.outcome}{why}{extra}, "
                f"#{op.start_seq}..{end}, {len(op.seqs)} records"
            )
    if frames:
        lines.append("  records:")
        lines += [f"    {line}" for line in log.summary().split("\n") if line]
    return "\n".join(lines)
