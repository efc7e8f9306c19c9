"""The cost of one transfer, counted rather than timed (for comparing two versions).

On a shared machine wall-clock figures move by ±10 % or more; these counts do not.
One fixed session — two :class:`~chan_nb.client.Session` s on an embedded node, a
warm-up, then ``--transfers`` transfers, payer alternating, as the ``sessions`` group
makes them (recording on) — over loopback sockets or in memory (``--memory``):

* instructions, with callgrind: run the command twice, with N and N+100 transfers, and
  divide the difference of the two totals by 100 (start-up and the warm-up cancel out)::

      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=a.out \\
          python -m benchmarks.cost --transfers 10
      PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=b.out \\
          python -m benchmarks.cost --transfers 110

  ``callgrind_annotate`` on both files gives the same per C function (Ed25519 field
  arithmetic, the interpreter, dict lookups …);
* Python bytecodes per function (``--opcodes FILE``: ``sys.settrace`` opcode events,
  written as JSON ``{"file:function": [opcodes, calls]}`` per transfer), which shows
  which Python code the instructions are spent in.

Only the package's public names used by earlier versions too are imported, so the same
file measures an older checkout (``PYTHONPATH=<old checkout>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter
from types import FrameType
from typing import Any

from chan_nb.client import Recorder, new_pair
from chan_nb.client.transport import MemoryTransport
from chan_nb.codec import clear_caches
from chan_nb.node import EmbeddedNode

WARM_UP = 20
#: file names shortened to where they sit (no machine paths in the output)
_SHORT = re.compile(r".*/(chan_nb|benchmarks|site-packages|python3\.\d+)/")

Tracer = Any  # sys.settrace's callback type


class OpcodeCounter:
    """Bytecodes executed per function while :meth:`on` (deterministic for one version)."""

    def __init__(self) -> None:
        self.opcodes: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def on(self) -> None:
        sys.settrace(self._call)

    @staticmethod
    def off() -> None:
        sys.settrace(None)

    def _call(self, frame: FrameType, event: str, arg: object) -> Tracer:
        code = frame.f_code
        key = _SHORT.sub(r"\1/", code.co_filename) + ":" + code.co_name
        self.calls[key] += 1
        frame.f_trace_opcodes = True
        counts = self.opcodes

        def local(frame: FrameType, event: str, arg: object) -> Tracer:
            if event == "opcode":
                counts[key] += 1
            return local

        return local

    def per_transfer(self, transfers: int) -> dict[str, list[float]]:
        keys = set(self.opcodes) | set(self.calls)
        return {k: [self.opcodes[k] / transfers, self.calls[k] / transfers] for k in keys}


async def session(transfers: int, memory: bool, counter: OpcodeCounter | None) -> float:
    """Transfers per second of the counted part (timing is only a sanity check here)."""
    clear_caches()
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        extra: dict[str, Any] = {"transport": MemoryTransport(node)} if memory else {}
        initiator, responder = new_pair(node, recorder=Recorder("cost"), **extra)
        try:
            await initiator.connect()
            await responder.connect()
            await asyncio.gather(initiator.wait_open(), responder.wait_open())
            pairs = [(initiator, responder), (responder, initiator)]
            for n in range(WARM_UP):
                payer, payee = pairs[n % 2]
                await payer.transfer(payee.address, 1)
            start = time.perf_counter()
            if counter is not None:
                counter.on()
            for n in range(WARM_UP, WARM_UP + transfers):
                payer, payee = pairs[n % 2]
                await payer.transfer(payee.address, 1)
            OpcodeCounter.off()
            elapsed = time.perf_counter() - start
            if initiator.round != WARM_UP + transfers + 1:
                raise AssertionError("the transfers did not all complete")
        finally:
            OpcodeCounter.off()
            await initiator.close()
            await responder.close()
    return transfers / elapsed if elapsed > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=100, help="transfers counted")
    parser.add_argument("--memory", action="store_true", help="in memory, not over sockets")
    parser.add_argument("--opcodes", metavar="FILE", help="write bytecodes per function here")
    args = parser.parse_args(argv)
    counter = OpcodeCounter() if args.opcodes else None
    per_s = asyncio.run(session(args.transfers, args.memory, counter))
    out: dict[str, Any] = {"transfers": args.transfers, "transfers_per_s": round(per_s)}
    if counter is not None:
        table = counter.per_transfer(args.transfers)
        with open(args.opcodes, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=0, sort_keys=True)
        out["opcodes_per_transfer"] = round(sum(v[0] for v in table.values()))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
