"""Gas and behaviour profiles: which node the VM imitates (fate.md §0, §3.4, §11 trap 1).

The recordings were made by a 2020 pre-release Iris node: protocol 5, vm 7, but with the
lima base costs, no traversal / store-read / code-load gas, ``init`` stripped from stored
code, contract objects v1, Erlang term order in comparisons, and a failed call's amount
kept by the contract. An Iris-final / current node (protocol ≥ 5) does all of those the
new way. The base costs themselves live in the opcode table
(:mod:`chan_nb.codec.fate.opcodes`: ``gas`` and ``gas_iris``); a profile only says which
column and which dynamic rules apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chan_nb.codec.fate.opcodes import OpInfo


@dataclass(frozen=True, slots=True)
class Profile:
    """One node's rules."""

    name: str
    iris_gas: bool  # Iris base costs, traversal gas, store read 2000, code load 4900
    strip_init: bool  # vm ≥ 7 code is stored without init (the recorded node)
    contract_object_v2: bool  # FATE vm ≥ 7 contracts are contract objects v2
    refund_failed_call: bool  # a failed call's amount goes back to the caller
    fate_order: bool  # comparisons / MAP_TO_LIST use FATE's total order (else Erlang's)
    strict_types: bool  # type checks abort (else: the old node's lenient behaviour)
    depth_limited_messages: bool  # error texts print terms with ~P/~W depth 6
    guards_init: bool  # init may not be called except when creating (vm ≥ 7 locally)

    def base_gas(self, op: OpInfo) -> int:
        return op.gas_iris if self.iris_gas else op.gas


#: The node that made the recordings (aeternity ≈ 8b8bfde65, aebytecode 7f0d309).
RECORDED_2020: Final = Profile(
    name="recorded-2020",
    iris_gas=False,
    strip_init=True,
    contract_object_v2=False,
    refund_failed_call=False,
    fate_order=False,
    strict_types=False,
    depth_limited_messages=False,
    guards_init=False,
)

#: Iris final (v6.0.0) and later nodes at consensus protocol 5 (Iris).
IRIS: Final = Profile(
    name="iris",
    iris_gas=True,
    strip_init=False,
    contract_object_v2=True,
    refund_failed_call=True,
    fate_order=True,
    strict_types=True,
    depth_limited_messages=True,
    guards_init=True,
)

PROFILES: Final = {p.name: p for p in (RECORDED_2020, IRIS)}

__all__ = ["IRIS", "PROFILES", "RECORDED_2020", "Profile"]
