"""Step-by-step comparison of a recording with its replay, per role.

Each role's records (notes excluded) are normalised (:mod:`.normalise`) and aligned
with :class:`difflib.SequenceMatcher`; a step *matched* when the replay has the same
normalised record at the aligned place, and *differed* otherwise (a changed record
counts once, a missing or an extra one once each). The order across roles depends on
timing, so it is not compared.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from chan_nb.recording import Direction, Frame
from chan_nb.replay.normalise import Namer, normalised


@dataclass(frozen=True)
class Difference:
    """Where a role's replay departs from the recording."""

    role: str
    recorded: tuple[str, ...]  # normalised recorded steps (empty: the replay has extra ones)
    replayed: tuple[str, ...]  # normalised replayed steps (empty: the replay lacks them)
    recorded_seqs: tuple[int, ...]  # their seq numbers in the recording

    @property
    def size(self) -> int:
        return max(len(self.recorded), len(self.replayed))


@dataclass
class RoleComparison:
    role: str
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)
    steps: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @property
    def differed(self) -> int:
        return sum(d.size for d in self.differences)


@dataclass
class Comparison:
    roles: dict[str, RoleComparison]

    @property
    def matched(self) -> int:
        return sum(r.matched for r in self.roles.values())

    @property
    def differed(self) -> int:
        return sum(r.differed for r in self.roles.values())

    @property
    def ok(self) -> bool:
        return self.differed == 0

    def summary_line(self) -> str:
        return f"replay: {self.matched} steps matched, {self.differed} differed"


def _steps(frames: Sequence[Frame], role: str) -> list[Frame]:
    return [f for f in frames if f.role == role and f.direction is not Direction.INFO]


def compare(
    recorded: Sequence[Frame],
    replayed: Sequence[Frame],
    recorded_parties: Mapping[str, str],
    replayed_parties: Mapping[str, str],
    recorded_aliases: Mapping[str, str] | None = None,
) -> Comparison:
    """Align each role's normalised records; ``*_parties`` map ``ak_`` → role name.

    ``recorded_aliases`` names recorded values that stand for others (see ``Plan.aliases``).
    """
    roles = list(dict.fromkeys([f.role for f in recorded] + [f.role for f in replayed]))
    out: dict[str, RoleComparison] = {}
    for role in roles:
        want_frames = _steps(recorded, role)
        got_frames = _steps(replayed, role)
        want_namer = Namer(recorded_parties, recorded_aliases or {})
        got_namer = Namer(replayed_parties)
        want_frames, want = _settle_races(
            want_frames, [normalised(f, want_namer) for f in want_frames]
        )
        got_frames, got = _settle_races(got_frames, [normalised(f, got_namer) for f in got_frames])
        result = RoleComparison(role)
        matcher = difflib.SequenceMatcher(a=want, b=got, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                result.matched += i2 - i1
                result.steps += [
                    (want[i], want[i], got[j])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            result.differences.append(
                Difference(
                    role,
                    tuple(want[i1:i2]),
                    tuple(got[j1:j2]),
                    tuple(f.seq for f in want_frames[i1:i2]),
                )
            )
            span = max(i2 - i1, j2 - j1)
            for k in range(span):
                w = want[i1 + k] if i1 + k < i2 else None
                g = got[j1 + k] if j1 + k < j2 else None
                result.steps.append(((w or g or ""), w, g))
        out[role] = result
    return Comparison(out)


def _is_ok_result(frame: Frame) -> bool:
    return isinstance(frame.message, dict) and frame.message.get("result") == "ok"


def _settle_races(frames: list[Frame], texts: list[str]) -> tuple[list[Frame], list[str]]:
    """Put known timing races in one order so they do not count as differences.

    When a client stops its FSM while the peer's stop is already killing it, ``died``
    and the stop's ``ok`` come in either order (websocket-api.md §4.15, both recorded):
    an ``ok`` directly followed by ``died`` is compared as ``died`` then ``ok``.
    """
    frames, texts = list(frames), list(texts)
    for k in range(len(frames) - 1):
        first, second = frames[k], frames[k + 1]
        if (
            first.direction is Direction.RECEIVED
            and second.direction is Direction.RECEIVED
            and _is_ok_result(first)
            and second.event == "died"
        ):
            frames[k], frames[k + 1] = second, first
            texts[k], texts[k + 1] = texts[k + 1], texts[k]
    return frames, texts


def report_lines(comparison: Comparison, *, verbose: bool = False, width: int = 160) -> list[str]:
    """A readable step-by-step report: differences always, matching steps with ``verbose``.

    A changed record shows both texts from a little before their first difference (not
    from their start, where long frames agree), then the JSON paths whose values differ."""
    lines: list[str] = []
    for role, result in comparison.roles.items():
        lines.append(f"{role}: {result.matched} matched, {result.differed} differed")
        for _, want, got in result.steps:
            if want == got:
                if verbose:
                    lines.append(f"  = {_clip(want, width)}")
                continue
            at = _first_difference(want or "", got or "") if want and got else 0
            if want is not None:
                lines.append(f"  - recorded: {_window(want, at, width)}")
            if got is not None:
                lines.append(f"  + replay:   {_window(got, at, width)}")
            if want is not None and got is not None:
                lines += [f"    {line}" for line in differing_paths(want, got)]
    return lines


def _first_difference(a: str, b: str) -> int:
    """Index of the first character where ``a`` and ``b`` differ."""
    shorter = min(len(a), len(b))
    return next((k for k in range(shorter) if a[k] != b[k]), shorter)


def _window(text: str, at: int, width: int) -> str:
    """About ``width`` characters of ``text``: its start (which says what the record is)
    and, when position ``at`` lies beyond it, ``…`` and the stretch around ``at``."""
    if len(text) <= width:
        return text
    head = width // 2
    if at < head + width // 6:
        return text[:width] + "…"
    start = at - width // 6
    rest = text[start : start + width - head]
    return f"{text[:head]}…{rest}" + ("…" if start + len(rest) < len(text) else "")


#: How many differing JSON paths a changed record lists.
MAX_PATHS = 6


def differing_paths(want: str, got: str, limit: int = MAX_PATHS) -> list[str]:
    """``at params.data.round: recorded 3, replay 4`` for each JSON value that differs
    between two normalised records of the same kind (``role direction {json}``); a record
    whose heads differ, or that is not JSON, gets one line naming the character."""
    head_w, _, body_w = want.partition(" {")
    head_g, _, body_g = got.partition(" {")
    try:
        if head_w != head_g or not body_w or not body_g:
            raise ValueError
        a, b = json.loads("{" + body_w), json.loads("{" + body_g)
    except (ValueError, RecursionError):
        return [f"first difference at character {_first_difference(want, got) + 1}"]
    found: list[str] = []
    stack: list[tuple[str, Any, Any]] = [("", a, b)]
    while stack and len(found) <= limit:
        path, x, y = stack.pop()
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y), reverse=True):
                stack.append(
                    (
                        f"{path}.{key}" if path else str(key),
                        x.get(key, _ABSENT),
                        y.get(key, _ABSENT),
                    )
                )
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            stack.extend((f"{path}[{i}]", x[i], y[i]) for i in reversed(range(len(x))))
        elif x != y or type(x) is not type(y):
            found.append(
                f"at {path or '(the whole frame)'}: recorded {_shown(x)}, replay {_shown(y)}"
            )
    if len(found) > limit:
        found[limit:] = ["… more paths differ"]
    return found


_ABSENT: Final = object()


def _shown(value: Any, limit: int = 60) -> str:
    if value is _ABSENT:
        return "(absent)"
    return _clip(json.dumps(value, sort_keys=True), limit)


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"
