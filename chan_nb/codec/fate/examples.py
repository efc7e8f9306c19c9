"""Small contracts written in FATE assembly (no Sophia compiler is needed to use them).

:data:`RACE21` is a two-player game used by the tutorial notebook and the tests:
players take turns adding 1, 2 or 3 to a running total; whoever brings it to 21 (or past
it) wins the contract's balance (the creator's deposit plus anything paid into ``play``).
A move out of turn, a move outside 1–3 or a move after the end is refused by the
contract itself (``ABORT``: the call reverts).

:data:`COUNTER` is the smallest contract that writes its store on every call (``tick``):
what the benchmarks' contract calls per second are measured with.

Store registers (RACE21): ``store1`` the total, ``store2`` whose turn it is, ``store3`` the other
player. ``init(first, second)`` names the players; ``play(n)`` returns the new total;
``total()`` and ``turn()`` read the game.
"""

from __future__ import annotations

from typing import Final

from chan_nb.codec.fate.asm import assemble
from chan_nb.codec.fate.bytecode import FateCode

RACE21: Final = """
;; race to 21: take turns adding 1, 2 or 3; who reaches 21 takes the pot
FUNCTION init(address, address) : unit
  STORE store1 0              ; the total
  STORE store2 arg0           ; whose turn
  STORE store3 arg1           ; the other player
  RETURNR ()
FUNCTION total() : int
  RETURNR store1
FUNCTION turn() : address
  RETURNR store2
FUNCTION payable play(int) : int
  EGT a store1 21             ;; BB 0
  JUMPIF a 6
  CALLER a                    ;; BB 1
  NEQ a a store2
  JUMPIF a 7
  LT a arg0 1                 ;; BB 2
  JUMPIF a 8
  GT a arg0 3                 ;; BB 3
  JUMPIF a 8
  ADD store1 store1 arg0      ;; BB 4: the move
  STORE var0 store2
  STORE store2 store3
  STORE store3 var0
  LT a store1 21
  JUMPIF a 9
  BALANCE a                   ;; BB 5: 21 reached, the mover takes the pot
  SPEND var0 a
  RETURNR store1
  ABORT "the game is over"    ;; BB 6
  ABORT "not your turn"       ;; BB 7
  ABORT "take 1, 2 or 3"      ;; BB 8
  RETURNR store1              ;; BB 9
"""

COUNTER: Final = """
;; a counter: init(start), tick() adds one and returns it, get() reads it
FUNCTION init(int) : unit
  STORE store1 arg0
  RETURNR ()
FUNCTION payable tick() : int
  INC store1
  RETURNR store1
FUNCTION get() : int
  RETURNR store1
"""

#: The total that ends :data:`RACE21`.
RACE21_GOAL: Final = 21


def race21_code() -> FateCode:
    """:data:`RACE21`, assembled."""
    return assemble(RACE21)


def counter_code() -> FateCode:
    """:data:`COUNTER`, assembled."""
    return assemble(COUNTER)


__all__ = ["COUNTER", "RACE21", "RACE21_GOAL", "counter_code", "race21_code"]
