"""FATE engine semantics, instruction group by group, on contracts written with our assembler.

Expected values come from fate.md (§3, §4, §8.2's derived Iris figures) and the facts of
aeternity's ``aefate_engine_test.erl`` (results, error texts); gas figures are worked
out from the base costs and the cell / traversal / store rules, written next to each.
"""

from __future__ import annotations

from typing import Any

import pytest

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding
from chan_nb.codec.fate import Bits, Bytes, FateMap, Variant, assemble, decode, encode_call
from chan_nb.codec.fate.code import CodeObject
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import Account
from chan_nb.vm import erlang

ME = b"\x11" * 32
OWNER = b"\x22" * 32
CONTRACT = b"\x33" * 32
OTHER = b"\x44" * 32
GAS = 1_000_000


def world_with(
    contracts: dict[bytes, str], store: dict[bytes, bytes] | None = None, balance: int = 1000
) -> vm.World:
    world = vm.World()
    world.accounts[ME] = Account(0, 10**9)
    for pubkey, asm in contracts.items():
        code = CodeObject(b"\x00" * 32, (), assemble(asm).serialize(), b"test", True)
        world.contracts[pubkey] = ct.ContractObject(
            Id.account(OWNER), (7 << 16) | 3, code.serialize(), 0
        )
        world.accounts[pubkey] = Account(0, balance)
        world.stores[pubkey] = dict(store or ct.initial_store())
    return world


def run(
    asm: str,
    fun: str,
    args: list[Any] | tuple[Any, ...] = (),
    *,
    profile: vm.Profile = vm.RECORDED_2020,
    gas: int = GAS,
    value: int = 0,
    world: vm.World | None = None,
    env: vm.ChainEnv = vm.RECORDED_ENV,
    onchain: vm.OnChain | None = None,
) -> vm.ExecResult:
    world = world or world_with({CONTRACT: asm})
    code = CodeObject.deserialize(world.contracts[CONTRACT].code).fate()
    spec = vm.CallSpec(CONTRACT, code, 7, encode_call(fun, list(args)), ME, ME, value, gas, 1)
    return vm.execute(world, spec, env, onchain or vm.StaticOnChain(), profile)


def ok(asm: str, fun: str, args: list[Any] | tuple[Any, ...] = (), **kw: Any) -> Any:
    result = run(asm, fun, args, **kw)
    assert result.return_type == "ok", result.return_value
    return result.value


def error(asm: str, fun: str, args: list[Any] | tuple[Any, ...] = (), **kw: Any) -> bytes:
    result = run(asm, fun, args, **kw)
    assert result.return_type == "error", result
    assert result.gas_used == kw.get("gas", GAS)  # errors burn all gas
    return result.return_value


# -- arithmetic ------------------------------------------------------------------------

ARITH = """
FUNCTION add(int, int) : int
  ADD a arg0 arg1
  RETURN
FUNCTION sub(int, int) : int
  SUB a arg0 arg1
  RETURN
FUNCTION mul(int, int) : int
  MUL a arg0 arg1
  RETURN
FUNCTION div(int, int) : int
  DIV a arg0 arg1
  RETURN
FUNCTION mod(int, int) : int
  MOD a arg0 arg1
  RETURN
FUNCTION pow(int, int) : int
  POW a arg0 arg1
  RETURN
FUNCTION incdec(int) : int
  INC arg0
  INC arg0
  DEC arg0
  PUSH arg0
  INCA
  RETURN
"""


@pytest.mark.parametrize(
    ("fun", "x", "y", "want"),
    [
        ("add", 1, 2, 3),
        ("sub", 3, 2, 1),
        ("mul", 2, 2, 4),
        ("div", 8, 4, 2),
        ("mod", 9, 4, 1),
        ("div", -7, 2, -3),  # truncates toward zero (Erlang div)
        ("mod", -7, 2, -1),  # the dividend's sign (Erlang rem)
        ("div", 7, -2, -3),
        ("mod", 7, -2, 1),
        ("div", -7, -2, 3),
        ("mod", -7, -2, -1),
        ("pow", 2, 10, 1024),
        ("pow", -3, 3, -27),
        ("pow", 5, 0, 1),
        ("mul", 2**64, 2**64, 2**128),
    ],
)
def test_arithmetic(fun: str, x: int, y: int, want: int) -> None:
    assert ok(ARITH, fun, [x, y]) == want


def test_arithmetic_errors_and_their_texts() -> None:
    assert error(ARITH, "div", [1, 0]) == b"Arithmetic error: division by zero"
    assert error(ARITH, "mod", [1, 0]) == b"Arithmetic error: mod by zero"
    assert error(ARITH, "pow", [2, -1]) == b"Arithmetic error: negative_exponent"
    assert ok(ARITH, "incdec", [5]) == 7


def test_arithmetic_gas_counts_result_words() -> None:
    # ADD: 10 base + words(result) cells + 1 cell for the push; RETURN 10
    assert run(ARITH, "add", [1, 2]).gas_used == 10 + 1 + 1 + 10
    assert run(ARITH, "add", [2**64, 0]).gas_used == 10 + 2 + 1 + 10  # 2 words
    # POW 2^3: e=3 odd (1 + 3·1), e=1 odd (1 + 3·1) → 8 cells; then the push, RETURN
    assert run(ARITH, "pow", [2, 3]).gas_used == 10 + 8 + 1 + 10


# -- comparisons and booleans -----------------------------------------------------------

COMP = """
FUNCTION lt(any, any) : bool
  LT a arg0 arg1
  RETURN
FUNCTION eq(any, any) : bool
  EQ a arg0 arg1
  RETURN
FUNCTION ge(any, any) : bool
  EGT a arg0 arg1
  RETURN
FUNCTION both(bool, bool) : bool
  AND a arg0 arg1
  RETURN
FUNCTION either(bool, bool) : bool
  OR a arg0 arg1
  RETURN
FUNCTION not(bool) : bool
  NOT a arg0
  RETURN
"""


def test_comparisons_within_a_type() -> None:
    for profile in (vm.RECORDED_2020, vm.IRIS):
        assert ok(COMP, "lt", [1, 2], profile=profile) is True
        assert ok(COMP, "ge", [3, 2], profile=profile) is True
        assert ok(COMP, "eq", [4, 4], profile=profile) is True
        assert ok(COMP, "eq", ["a longer string", "a longer String"], profile=profile) is False
        assert ok(COMP, "lt", [[1], [1, 0]], profile=profile) is True


def test_comparisons_across_types_follow_the_profile() -> None:
    """FATE order from Iris (strings shorter first, string < tuple); Erlang term order before."""
    assert ok(COMP, "lt", ["b", "aa"], profile=vm.IRIS) is True
    assert ok(COMP, "lt", ["b", "aa"], profile=vm.RECORDED_2020) is False
    assert ok(COMP, "lt", ["x", (1,)], profile=vm.IRIS) is True  # string 8 < tuple 9
    assert ok(COMP, "lt", ["x", (1,)], profile=vm.RECORDED_2020) is False  # binary > tuple
    assert ok(COMP, "lt", [7, True], profile=vm.IRIS) is True  # integer < boolean
    assert ok(COMP, "lt", [7, True], profile=vm.RECORDED_2020) is True  # number < atom


def test_booleans() -> None:
    assert ok(COMP, "both", [True, False]) is False
    assert ok(COMP, "either", [True, False]) is True
    assert ok(COMP, "not", [False]) is True


# -- control flow -------------------------------------------------------------------------

FLOW = """
FUNCTION jumps() : int
  PUSH 0
  JUMP 3
  NOP
  JUMP 2
  NOP
  RETURN
  NOP
  JUMP 1
FUNCTION skip(int, int) : int
  EQ var0 arg0 0
  JUMPIF var0 2
  INC arg1
  RETURNR arg1
  RETURNR arg1
FUNCTION inc(int) : int
  ADD a arg0 1
  INC a
  RETURN
FUNCTION call(int) : int
  ADD a arg0 1
  CALL &inc
  INC a
  RETURN
FUNCTION tailcall(int) : int
  ADD a arg0 1
  CALL_T &inc
FUNCTION undefined(int) : int
  STORE var0 arg0
  CALL &clear
  RETURNR var0
FUNCTION clear() : int
  RETURNR 1
FUNCTION bad_jump() : int
  JUMP 7
FUNCTION revert() : int
  ABORT "no"
FUNCTION exit() : int
  EXIT "bye"
"""


def test_control_flow() -> None:
    assert ok(FLOW, "jumps") == 0
    assert ok(FLOW, "skip", [0, 42]) == 42
    assert ok(FLOW, "skip", [1, 42]) == 43
    assert ok(FLOW, "inc", [0]) == 2
    assert ok(FLOW, "call", [0]) == 4
    assert ok(FLOW, "tailcall", [0]) == 3


def test_memory_is_per_frame() -> None:
    assert ok(FLOW, "undefined", [17]) == 17  # restored after the local call
    bad = "FUNCTION f(int) : int\n  RETURNR var1\n"
    assert error(bad, "f", [17]) == b"Undefined var: {var,1}"
    assert error(FLOW, "bad_jump") == b"Trying to jump to non existing bb: 7"


def test_revert_keeps_unused_gas_and_exit_burns_it() -> None:
    result = run(FLOW, "revert")
    assert result.return_type == "revert"
    assert result.return_value == bytes.fromhex("096e6f")  # the FATE string "no"
    assert result.gas_used == 10
    assert result.world is None and result.logs == ()
    result = run(FLOW, "exit")
    assert (result.return_type, result.return_value, result.gas_used) == ("error", b"bye", GAS)


def test_out_of_gas_and_bad_calls() -> None:
    result = run(ARITH, "add", [1, 2], gas=21)  # needs 22
    assert (result.return_type, result.return_value, result.gas_used) == (
        "error",
        b"Out of gas",
        21,
    )
    assert run(ARITH, "add", [1, 2], gas=22).return_type == "ok"
    assert error(ARITH, "add", [1]) == b"Expected 2 arguments, got 1"
    assert error(ARITH, "add", [1, "x"]) == (
        b'Type error on call: [1,<<"x">>] is not of type [integer,integer]'
    )


def test_not_payable_and_private_texts() -> None:
    code = "FUNCTION private p() : int\n  RETURNR 1\nFUNCTION f() : int\n  RETURNR 1\n"
    pid = list(encode_call("p", [])[2:6])
    fid = list(encode_call("f", [])[2:6])
    assert (
        error(code, "p") == f"Function with hash <<{','.join(map(str, pid))}>> is private".encode()
    )
    assert error(code, "f", value=1) == (
        f"Function with hash <<{','.join(map(str, fid))}>> is not payable".encode()
    )


# -- tuples, variants ---------------------------------------------------------------------

TUPLES = """
FUNCTION make(int, int, int) : tuple(int, int, int)
  PUSH arg0
  PUSH arg1
  PUSH arg2
  TUPLE a 3
  RETURN
FUNCTION element(tuple(int, int), int) : int
  ELEMENT a arg1 arg0
  RETURN
FUNCTION set(tuple(int, int), int) : tuple(int, int)
  SETELEMENT a 0 arg0 arg1
  RETURN
FUNCTION switch(variant(tuple(), tuple(int))) : int
  SWITCH_V2 arg0 1 2
  RETURNR 0
  VARIANT_ELEMENT a arg0 0
  RETURN
FUNCTION switch3(variant(tuple(), tuple(int), tuple(int, int))) : int
  SWITCH_V2 arg0 1 2
  RETURNR 0
  RETURNR 1
FUNCTION make_variant(int) : variant(tuple(), tuple(int))
  PUSH arg0
  VARIANT a [0, 1] 1 1
  RETURN
FUNCTION test(variant(tuple(), tuple(int)), int) : bool
  VARIANT_TEST a arg0 arg1
  RETURN
"""


def test_tuples_and_variants() -> None:
    assert ok(TUPLES, "make", [1, 2, 3]) == (1, 2, 3)  # push order
    assert ok(TUPLES, "element", [(1, 2), 1]) == 2
    assert error(TUPLES, "element", [(1, 2), 2]) == b"Bad index argument to element, Index: 2"
    assert ok(TUPLES, "set", [(1, 2), 9]) == (9, 2)
    some42 = Variant((0, 1), 1, (42,))
    assert ok(TUPLES, "switch", [Variant((0, 1), 0, ())]) == 0
    assert ok(TUPLES, "switch", [some42]) == 42
    assert error(TUPLES, "switch3", [Variant((0, 1, 2), 1, (42,))]) == (
        b"Type error in switch: wrong size 3"
    )
    assert ok(TUPLES, "make_variant", [42]) == some42
    assert ok(TUPLES, "test", [some42, 1]) is True
    assert ok(TUPLES, "test", [some42, 0]) is False


def test_tuple_gas() -> None:
    # 3 PUSH (10 + 1), TUPLE 10 + (3 + 2) cells − … + 1 push, RETURN 10
    assert run(TUPLES, "make", [1, 2, 3]).gas_used == 3 * 11 + 10 + 5 + 1 + 10


# -- maps and lists -------------------------------------------------------------------------

MAPS = """
FUNCTION update(map(int, bool), int, bool) : map(int, bool)
  MAP_UPDATE a arg0 arg1 arg2
  RETURN
FUNCTION lookup(map(int, bool), int) : bool
  MAP_LOOKUP a arg0 arg1
  RETURN
FUNCTION lookupd(map(int, bool), int) : bool
  MAP_LOOKUPD a arg0 arg1 false
  RETURN
FUNCTION member(map(int, bool), int) : bool
  MAP_MEMBER a arg0 arg1
  RETURN
FUNCTION delete(map(int, bool), int) : map(int, bool)
  MAP_DELETE a arg0 arg1
  RETURN
FUNCTION size(map(int, bool)) : int
  MAP_SIZE a arg0
  RETURN
FUNCTION to_list(map(any, bool)) : list(tuple(any, bool))
  MAP_TO_LIST a arg0
  RETURN
FUNCTION from_list(list(tuple(int, bool))) : map(int, bool)
  MAP_FROM_LIST a arg0
  RETURN
FUNCTION empty() : map(int, bool)
  MAP_EMPTY a
  RETURN
FUNCTION cons(int, list(int)) : list(int)
  CONS a arg0 arg1
  RETURN
FUNCTION head(list(int)) : int
  HD a arg0
  RETURN
FUNCTION tail(list(int)) : list(int)
  TL a arg0
  RETURN
FUNCTION append(list(int), list(int)) : list(int)
  APPEND a arg0 arg1
  RETURN
FUNCTION is_nil(list(int)) : bool
  IS_NIL a arg0
  RETURN
"""


def test_maps() -> None:
    m42 = FateMap({42: True})
    assert ok(MAPS, "empty") == FateMap()
    assert ok(MAPS, "update", [FateMap(), 42, True]) == m42
    assert ok(MAPS, "lookup", [m42, 42]) is True
    assert error(MAPS, "lookup", [m42, 17]) == b"Maps: Key does not exist"
    assert ok(MAPS, "lookupd", [m42, 17]) is False
    assert ok(MAPS, "member", [FateMap({42: False}), 42]) is True
    assert ok(MAPS, "member", [FateMap({42: False}), 17]) is False
    assert ok(MAPS, "delete", [FateMap({1: True, 2: False}), 1]) == FateMap({2: False})
    assert ok(MAPS, "size", [FateMap({1: True, 2: False})]) == 2
    assert ok(MAPS, "from_list", [[(1, True), (2, False), (1, False)]]) == FateMap(
        {1: False, 2: False}
    )
    table = FateMap({1: True, 2: False, 42: True})
    assert ok(MAPS, "to_list", [table]) == [(1, True), (2, False), (42, True)]


def test_map_to_list_order_follows_the_profile() -> None:
    table = FateMap({"b": True, "aa": False})
    assert ok(MAPS, "to_list", [table], profile=vm.IRIS) == [("b", True), ("aa", False)]
    assert ok(MAPS, "to_list", [table], profile=vm.RECORDED_2020) == [("aa", False), ("b", True)]


def test_lists() -> None:
    assert ok(MAPS, "cons", [42, []]) == [42]
    assert ok(MAPS, "head", [[42, 1]]) == 42
    assert ok(MAPS, "tail", [[42, 1]]) == [1]
    assert error(MAPS, "head", [[]]) == b"Head on empty list"
    assert error(MAPS, "tail", [[]]) == b"Tail on empty list"
    assert ok(MAPS, "append", [[1, 2], [3]]) == [1, 2, 3]
    assert ok(MAPS, "is_nil", [[]]) is True
    # APPEND: 10 + push 1 + 2 × len(first) cells, RETURN 10
    assert run(MAPS, "append", [[1, 2], [3]]).gas_used == 10 + 1 + 4 + 10


# -- strings, bytes, bits ----------------------------------------------------------------

STRINGS = """
FUNCTION join(string, string) : string
  STR_JOIN a arg0 arg1
  RETURN
FUNCTION int_to_str(int) : string
  INT_TO_STR a arg0
  RETURN
FUNCTION addr_to_str(address) : string
  ADDR_TO_STR a arg0
  RETURN
FUNCTION reverse(string) : string
  STR_REVERSE a arg0
  RETURN
FUNCTION length(string) : int
  STR_LENGTH a arg0
  RETURN
FUNCTION to_str(bytes(2)) : string
  BYTES_TO_STR a arg0
  RETURN
FUNCTION to_int(bytes(2)) : int
  BYTES_TO_INT a arg0
  RETURN
FUNCTION concat(bytes(2), bytes(1)) : bytes(3)
  BYTES_CONCAT a arg0 arg1
  RETURN
FUNCTION split(bytes(3)) : tuple(bytes(1), bytes(2))
  BYTES_SPLIT a arg0 1
  RETURN
"""

BITS = """
FUNCTION all() : bits
  BITS_ALL a
  RETURN
FUNCTION none() : bits
  BITS_NONEA
  RETURN
FUNCTION all_n(int) : bits
  BITS_ALL_N a arg0
  RETURN
FUNCTION set(int) : bits
  BITS_NONE var0
  BITS_SET a var0 arg0
  RETURN
FUNCTION clear(int) : bits
  BITS_ALL var0
  BITS_CLEAR a var0 arg0
  RETURN
FUNCTION test(bits, int) : bool
  BITS_TEST a arg0 arg1
  RETURN
FUNCTION sum(bits) : int
  BITS_SUM a arg0
  RETURN
FUNCTION union(bits, bits) : bits
  BITS_OR a arg0 arg1
  RETURN
FUNCTION intersection(bits, bits) : bits
  BITS_AND a arg0 arg1
  RETURN
FUNCTION difference(bits, bits) : bits
  BITS_DIFF a arg0 arg1
  RETURN
"""


def test_strings() -> None:
    assert ok(STRINGS, "join", ["a longer ", "string"]) == "a longer string"
    assert ok(STRINGS, "join", ["", ""]) == ""
    assert ok(STRINGS, "int_to_str", [4711]) == "4711"
    pubkey = bytes.fromhex("022076516c12f7f32df3524b9f904a759d264e6372efd9d24328cf03346fd035")
    assert ok(STRINGS, "addr_to_str", [Address(ObjectKind.ADDRESS, pubkey)]) == (
        "ak_wKvyTJ147VfZWeGVUnx274hVWRFL2cN5FPrNeGgTWPjpXS17"
    )
    assert ok(STRINGS, "reverse", ["123456789"]) == "987654321"
    assert ok(STRINGS, "length", ["héllo"]) == 5  # code points from vm 7
    assert ok(STRINGS, "to_str", [Bytes(b"\xbe\xef")]) == "BEEF"
    assert ok(STRINGS, "to_int", [Bytes(b"\x01\x00")]) == 256
    assert ok(STRINGS, "concat", [Bytes(b"ab"), Bytes(b"c")]) == Bytes(b"abc")
    assert ok(STRINGS, "split", [Bytes(b"abc")]) == (Bytes(b"a"), Bytes(b"bc"))


def test_bits() -> None:
    assert ok(BITS, "all") == Bits(-1)
    assert ok(BITS, "none") == Bits(0)
    assert ok(BITS, "all_n", [4]) == Bits(15)
    assert ok(BITS, "set", [3]) == Bits(8)
    assert ok(BITS, "clear", [0]) == Bits(-2)
    assert ok(BITS, "test", [Bits(15), 1]) is True
    assert ok(BITS, "sum", [Bits(15)]) == 4
    assert error(BITS, "sum", [Bits(-1)]) == b"Arithmetic error: bits_sum_on_infinite_set"
    assert ok(BITS, "union", [Bits(1), Bits(2)]) == Bits(3)
    assert ok(BITS, "intersection", [Bits(15), Bits(2)]) == Bits(2)
    assert ok(BITS, "difference", [Bits(15), Bits(2)]) == Bits(13)


# -- crypto ---------------------------------------------------------------------------------

HASHES = """
FUNCTION sha3(bytes(16)) : bytes(32)
  SHA3 a arg0
  RETURN
FUNCTION sha256(string) : bytes(32)
  SHA256 a arg0
  RETURN
FUNCTION blake2b(int) : bytes(32)
  BLAKE2B a arg0
  RETURN
"""


def test_keccak256_vector() -> None:
    """aeternity/erlang-sha3's vector: Keccak-256, not NIST SHA3-256 (fate.md §3.2.6)."""
    data = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    want = "22bce46032802af0abfacf3768f7be04a34f5f01df60f44ffd52d3ca937350c0"
    assert vm.keccak256(data).hex() == want
    assert vm.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert ok(HASHES, "sha3", [Bytes(data)]) == Bytes(bytes.fromhex(want))


def test_hash_inputs() -> None:
    import hashlib

    from chan_nb.codec.fate import encode
    from chan_nb.codec.hashing import blake2b_256

    assert ok(HASHES, "sha256", ["abc"]) == Bytes(hashlib.sha256(b"abc").digest())
    assert ok(HASHES, "blake2b", [7]) == Bytes(blake2b_256(encode(7)))  # serialized non-string


def test_verify_sig() -> None:
    from nacl.signing import SigningKey

    key = SigningKey(b"\x07" * 32)
    msg = b"\x01" * 32
    sig = key.sign(msg).signature
    code = (
        "FUNCTION v(bytes(32), address, bytes(64)) : bool\n"
        "  VERIFY_SIG a arg0 arg1 arg2\n"
        "  RETURN\n"
    )
    pk = Address(ObjectKind.ADDRESS, bytes(key.verify_key))
    assert ok(code, "v", [Bytes(msg), pk, Bytes(sig)]) is True
    assert ok(code, "v", [Bytes(b"\x02" * 32), pk, Bytes(sig)]) is False
    assert run(code, "v", [Bytes(msg), pk, Bytes(sig)]).gas_used == 1300 + 1 + 10


# -- the chain environment, events, coins ---------------------------------------------------

ENV = """
FUNCTION payable block_height() : int
  GENERATION a
  RETURN
FUNCTION payable timestamp() : int
  TIMESTAMP a
  RETURN
FUNCTION payable coinbase() : address
  BENEFICIARY a
  RETURN
FUNCTION payable caller() : address
  CALLER a
  RETURN
FUNCTION payable origin() : address
  ORIGIN a
  RETURN
FUNCTION payable creator() : address
  CREATOR a
  RETURN
FUNCTION payable value() : int
  CALL_VALUE a
  RETURN
FUNCTION payable gas_left() : int
  GAS a
  RETURN
"""


def test_pinned_environment_and_its_gas_in_both_profiles() -> None:
    """Recorded: every call 21 gas; Iris+: 25, 29, 55, 55, 55, 55 (fate.md §8.2, derived)."""
    want = {
        "block_height": (1903, 25),
        "timestamp": (1585147276254, 29),
        "coinbase": (Address(ObjectKind.ADDRESS, vm.RECORDED_ENV.beneficiary), 55),
        "caller": (Address(ObjectKind.ADDRESS, ME), 55),
        "origin": (Address(ObjectKind.ADDRESS, ME), 55),
        "creator": (Address(ObjectKind.ADDRESS, OWNER), 55),
    }
    for fun, (value, iris_gas) in want.items():
        recorded = run(ENV, fun)
        assert (recorded.value, recorded.gas_used) == (value, 21), fun
        iris = run(ENV, fun, profile=vm.IRIS)
        assert (iris.value, iris.gas_used) == (value, iris_gas), fun
    assert ok(ENV, "value", value=5) == 5
    assert ok(ENV, "gas_left", gas=1000) == 1000 - 10  # after the base cost


NAMES = """
FUNCTION payable can_resolve(string, string) : bool
  AENS_RESOLVE a arg0 arg1 'variant(tuple(), tuple(string))
  SWITCH_V2 a 1 2
  RETURNR false
  RETURNR true
FUNCTION payable resolve(string, string) : variant(tuple(), tuple(address))
  AENS_RESOLVE a arg0 arg1 'variant(tuple(), tuple(address))
  RETURN
"""


def test_names_are_read_from_the_pinned_on_chain_state() -> None:
    target = b"\x01" * 32
    chain = vm.StaticOnChain(names={b"x.chain": {b"account_pubkey": ("account", target)}})
    result = run(NAMES, "can_resolve", ["x.chain", "account_pubkey"], onchain=chain)
    assert (result.value, result.gas_used) == (True, 122)  # fate.md §8.2
    iris = run(NAMES, "can_resolve", ["x.chain", "account_pubkey"], onchain=chain, profile=vm.IRIS)
    assert iris.gas_used == 2025
    assert ok(NAMES, "can_resolve", ["x.chain", "oracle"], onchain=chain) is False
    assert ok(NAMES, "can_resolve", ["y.chain", "account_pubkey"], onchain=chain) is False
    found = ok(NAMES, "resolve", ["x.chain", "account_pubkey"], onchain=chain)
    assert found == Variant((0, 1), 1, (Address(ObjectKind.ADDRESS, target),))


EVENTS = """
FUNCTION two() : unit
  LOG1 "hi" 7
  LOG0 #beef
  RETURNR ()
FUNCTION bad() : unit
  LOG1 "x" -1
  RETURNR ()
"""


def test_events() -> None:
    result = run(EVENTS, "two")
    assert result.logs == (  # most recent first (add_log prepends)
        ct.LogEntry(CONTRACT, (), b"\xbe\xef"),
        ct.LogEntry(CONTRACT, (7,), b"hi"),
    )
    # LOG1 1100 + 20 × (8 + 2); LOG0 1000 + 20 × 2; RETURNR 11
    assert result.gas_used == 1100 + 200 + 1000 + 40 + 11
    assert error(EVENTS, "bad") == b"Illegal integer in log: -1"


SPEND = """
FUNCTION spend(address, int) : int
  SPEND arg0 arg1
  BALANCE a
  RETURN
FUNCTION balance_of(address) : int
  BALANCE_OTHER a arg0
  RETURN
"""


def test_spend_and_balances() -> None:
    to = Address(ObjectKind.ADDRESS, OTHER)
    result = run(SPEND, "spend", [to, 300])
    assert result.value == 700 and result.gas_used == 100 + 11 + 10
    assert result.world is not None and result.world.balance(OTHER) == 300  # created
    # Iris: SPEND 5000; traversals of 700 (2 bytes): simple 1 + final ⌈2.8⌉ = 3
    assert run(SPEND, "spend", [to, 300], profile=vm.IRIS).gas_used == 5000 + 11 + 10 + 1 + 3
    assert error(SPEND, "spend", [to, 5000]) == b"Error in spend: insufficient_funds"
    chain = vm.StaticOnChain(accounts={OTHER: 77})
    assert ok(SPEND, "balance_of", [to], onchain=chain) == 77  # the on-chain fallback
    assert ok(SPEND, "balance_of", [Address(ObjectKind.ADDRESS, ME)], onchain=chain) == 10**9


# -- the store ---------------------------------------------------------------------------

COUNTER = """
FUNCTION init(int) : unit
  STORE store1 arg0
  RETURNR ()
FUNCTION payable get() : int
  RETURNR store1
FUNCTION payable tick() : unit
  INC store1
  RETURNR ()
FUNCTION payable put_map() : unit
  MAP_EMPTY store1
  RETURNR ()
FUNCTION payable put_list(list(tuple(int, int))) : unit
  MAP_FROM_LIST store1 arg0
  RETURNR ()
FUNCTION payable size() : int
  MAP_SIZE a store1
  RETURN
"""


def test_store_writes_and_their_gas() -> None:
    store = {**ct.initial_store(), ct.register_key(1): bytes.fromhex("2a")}  # 21
    world = world_with({CONTRACT: COUNTER}, store)
    tick = run(COUNTER, "tick", world=world)
    # INC 10, RETURNR 11, register 1: 5 × (2 + 1), metadata 5 × (2 + 2)
    assert tick.gas_used == 56
    assert tick.world is not None and tick.world.stores[CONTRACT][b"\x00\x01"] == b"\x2c"
    assert run(COUNTER, "get", world=world).gas_used == 11
    assert run(COUNTER, "tick", world=world, profile=vm.IRIS).gas_used == 2061
    assert run(COUNTER, "get", world=world, profile=vm.IRIS).gas_used == 2014
    assert world.stores[CONTRACT][b"\x00\x01"] == b"\x2a"  # execute does not touch its input


def test_small_maps_stay_inline_and_store_maps_are_refused() -> None:
    """Under 100 serialized bytes a map in the state is stored inline (the node's
    STORE_MAP_THRESHOLD); a bigger one would become a store map, which is refused."""
    world = world_with({CONTRACT: COUNTER})
    empty = run(COUNTER, "put_map", world=world)
    # MAP_EMPTY 10 + 2 cells, RETURNR 11, register 1 = 2f 00: 5 × (2 + 2), metadata 20
    assert empty.gas_used == 12 + 11 + 20 + 20
    assert empty.world is not None and empty.world.stores[CONTRACT][b"\x00\x01"] == b"\x2f\x00"
    small = run(COUNTER, "put_list", [[(i, i) for i in range(10)]], world=world)
    assert small.world is not None
    assert run(COUNTER, "size", world=small.world).value == 10
    with pytest.raises(vm.VmNotImplemented, match="store map"):
        run(COUNTER, "put_list", [[(i, i) for i in range(60)]], world=world)


# -- remote calls ---------------------------------------------------------------------------

CALLEE = (
    """
FUNCTION payable main(int) : int
  RETURNR arg0
FUNCTION payable fail(int) : int
  EXIT "inner"
FUNCTION payable back() : int
  CALL_R @ct_"""
    + encoding.encode("ct", CONTRACT)[3:]
    + """ &id 'tuple() 'int 0
  RETURN
"""
)

CALLER = """
FUNCTION payable call(contract, int) : int
  PUSH arg1
  PUSH 10000
  PUSH 10
  PUSH arg0
  CALL_GR a &main 'tuple(int) 'int a a
  RETURN
FUNCTION payable fail(contract) : int
  PUSH 1
  PUSH 10000
  PUSH 0
  PUSH arg0
  CALL_GR a &fail 'tuple(int) 'int a a
  RETURN
FUNCTION payable wrong_type(contract) : string
  PUSH 1
  PUSH 0
  PUSH arg0
  CALL_R a &main 'tuple(int) 'string a
  RETURN
FUNCTION payable reenter(contract) : int
  PUSH 0
  PUSH arg0
  CALL_R a &back 'tuple() 'int a
  RETURN
FUNCTION id() : int
  RETURNR 1
"""


def test_remote_call_gas_value_and_caller() -> None:
    world = world_with({CONTRACT: CALLER, OTHER: CALLEE}, balance=100)
    callee = Address(ObjectKind.CONTRACT, OTHER)
    result = run(CALLER, "call", [callee, 42], world=world)
    # 4 PUSH × 11 + CALL_GR 100 + callee RETURNR 11 + RETURN 10 (fate.md §8.2)
    assert (result.value, result.gas_used) == (42, 165)
    assert result.world is not None
    assert result.world.balance(OTHER) == 110 and result.world.balance(CONTRACT) == 90
    iris = run(CALLER, "call", [callee, 42], world=world, profile=vm.IRIS)
    assert iris.gas_used == 5073  # + code load 4900 + traversals (fate.md §8.2)


def test_remote_failures() -> None:
    world = world_with({CONTRACT: CALLER, OTHER: CALLEE}, balance=100)
    callee = Address(ObjectKind.CONTRACT, OTHER)
    failed = run(CALLER, "fail", [callee], world=world)
    assert failed.return_type == "error" and failed.return_value == b"inner"
    reserved = GAS - 4 * 11 - 100 - 10000  # held back by the gas cap
    assert failed.gas_used == GAS - reserved
    wrong = run(CALLER, "wrong_type", [callee], world=world)
    assert wrong.return_value == b"Type of remote function does not match expected type"
    reenter = run(CALLER, "reenter", [callee], world=world)
    assert reenter.return_value == b"Reentrant call"
    missing = run(CALLER, "call", [Address(ObjectKind.CONTRACT, b"\x55" * 32), 1], world=world)
    assert missing.return_value.startswith(b"Trying to call invalid contract: <<85,85,")


# -- what is refused ----------------------------------------------------------------------


def test_off_chain_only_ops_and_unimplemented_ones() -> None:
    oracle = (
        "FUNCTION f() : int\n  ORACLE_EXTEND #00 @ok_"
        + encoding.encode("ok", ME)[3:]
        + " 1\n  RETURNR 1\n"
    )
    assert error(oracle, "f") == b"Operation 'ORACLE_EXTEND' not allowed off chain"
    bls = "FUNCTION f(int) : bool\n  BLS12_381_G1_IS_ZERO a arg0\n  RETURN\n"
    with pytest.raises(vm.VmNotImplemented, match="BLS12_381_G1_IS_ZERO"):
        run(bls, "f", [1])


def test_erlang_term_texts() -> None:
    assert erlang.format_message("~p", [("p", erlang.Atom("SPEND"))], False) == b"'SPEND'"
    assert erlang.format_message("~w", [("w", b"\x4b\x05")], False) == b"<<75,5>>"
    assert erlang.format_message("~p", [("p", [104, 105])], False) == b'"hi"'
    assert erlang.format_message("~p", [("p", erlang.Atom("div"))], False) == b"'div'"
    with pytest.raises(vm.VmNotImplemented):
        erlang.format_message("~p", [("p", list(range(40)))], False)  # Erlang breaks the line


def test_erlang_term_order() -> None:
    key = erlang.term_order_key
    assert key(1) < key(True) < key((1,)) < key(FateMap()) < key([]) < key([0]) < key("")
    assert key(Address(ObjectKind.ADDRESS, b"\x00")) < key(Bits(0))  # 'address' < 'bits'
    assert key("aa") < key("b")
    assert decode(bytes.fromhex("2f00")) == FateMap()


# -- Iris rules where the old node was lenient -----------------------------------------------

LENIENT = """
FUNCTION jumpif(int) : int
  JUMPIF arg0 1
  RETURNR 1
FUNCTION lookup(int) : int
  MAP_LOOKUP a arg0 1
  RETURN
FUNCTION short() : int
  PUSH 1
  CALL &two
FUNCTION two(int, int) : int
  RETURNR arg0
FUNCTION variant() : variant(tuple(), tuple(int))
  PUSH 1
  PUSH 2
  VARIANT a [0, 1] 1 2
  RETURN
"""


def test_iris_aborts_where_the_old_node_was_lenient() -> None:
    iris = vm.IRIS
    assert error(LENIENT, "jumpif", [5], profile=iris) == (
        b"Type error on call: 5 is not of type boolean"
    )
    assert error(LENIENT, "lookup", [5], profile=iris) == (
        b"Operation map_lookup expected a map as argument, got 5"
    )
    assert error(LENIENT, "short", profile=iris) == b"Stack overflow when pop:ing 2 elements"
    assert error(LENIENT, "variant", profile=iris) == (
        b"Bad arguments to make_variant: [[0,1],1,2]"
    )
    for fun, args in (("jumpif", [5]), ("lookup", [5]), ("short", []), ("variant", [])):
        with pytest.raises(vm.VmNotImplemented):
            run(LENIENT, fun, args, profile=vm.RECORDED_2020)


def test_iris_comparison_and_hash_traversals_are_simple() -> None:
    """Without store maps the node walks operands with the simple model (800 mGas a node)."""
    long_a, long_b = "x" * 100, "y" * 100
    # LT 10 + push 1 + two simple walks ⌈0.8⌉ + RETURN 10; result: simple 1 + final ⌈1.8⌉ 2
    assert run(COMP, "lt", [long_a, long_b], profile=vm.IRIS).gas_used == 10 + 1 + 2 + 10 + 3
    assert run(COMP, "lt", [long_a, long_b]).gas_used == 10 + 1 + 10
    # SHA256 100 + walk 1 + push 1 + RETURN 10; result bytes(32): simple 1 + final ⌈32.8⌉
    assert run(HASHES, "sha256", [long_a], profile=vm.IRIS).gas_used == 100 + 1 + 1 + 10 + 1 + 33


def test_iris_calling_init_later_is_refused() -> None:
    code = "FUNCTION init() : int\n  RETURNR 1\nFUNCTION f() : int\n  CALL &init\n  RETURN\n"
    assert error(code, "f", profile=vm.IRIS) == b"Calling init is not allowed in this context"
    assert ok(code, "f", profile=vm.RECORDED_2020) == 1  # no such guard in the old node


PROTECTED = """
FUNCTION payable safe(contract, int) : variant(tuple(), tuple(int))
  PUSH arg1
  PUSH 10000
  PUSH 5
  PUSH arg0
  CALL_PGR a &pay 'tuple(int) 'int a a true
  RETURN
FUNCTION payable safe_missing() : variant(tuple(), tuple(int))
  PUSH 1
  PUSH 10000
  PUSH 0
  PUSH @ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq
  CALL_PGR a &pay 'tuple(int) 'int a a true
  RETURN
"""

PAYEE = (
    """
FUNCTION payable pay(int) : int
  SPEND @ak_"""
    + encoding.encode("ak", b"\x66" * 32)[3:]
    + """ 50
  EQ var0 arg0 0
  JUMPIF var0 2
  RETURNR arg0
  EXIT "inner"
"""
)


def test_protected_remote_calls() -> None:
    """CALL_PGR: Some(result) on success; on failure None, the callee's effects rolled back
    (its SPEND and the value sent), the gas left before the failing instruction kept."""
    payee = Address(ObjectKind.CONTRACT, OTHER)
    for profile in (vm.RECORDED_2020, vm.IRIS):
        world = world_with({CONTRACT: PROTECTED, OTHER: PAYEE}, balance=100)
        good = run(PROTECTED, "safe", [payee, 7], world=world, profile=profile)
        assert good.value == Variant((0, 1), 1, (7,))
        assert good.world is not None and good.world.balance(OTHER) == 100 + 5 - 50
        assert good.world.balance(b"\x66" * 32) == 50
        bad = run(PROTECTED, "safe", [payee, 0], world=world, profile=profile)
        assert bad.return_type == "ok" and bad.value == Variant((0, 1), 0, ())
        assert bad.world is not None
        assert bad.world.balance(OTHER) == 100 and bad.world.balance(CONTRACT) == 100
        assert bad.world.balance(b"\x66" * 32) is None
        missing = run(PROTECTED, "safe_missing", world=world, profile=profile)
        assert missing.value == Variant((0, 1), 0, ())
    world = world_with({CONTRACT: PROTECTED, OTHER: PAYEE}, balance=100)
    bad = run(PROTECTED, "safe", [payee, 0], world=world)
    # caller: 4 PUSH × 11, CALL_PGR 100, RETURN 10; callee until EXIT: SPEND 100, EQ 10 + 0
    # (to a var), JUMPIF 10 — the EXIT's own base is not charged (it is the failing step)
    assert bad.gas_used == 44 + 100 + 100 + 10 + 10 + 10
    # setup failure: the gas before the attempt, and the None pushed (1 cell)
    assert run(PROTECTED, "safe_missing", world=world).gas_used == 44 + 100 + 1 + 10


DEEP = """
FUNCTION nest(int) : any
  PUSH ()
  JUMP 1
  TUPLE a 1
  DEC arg0
  GT var0 arg0 0
  JUMPIF var0 1
  RETURN
"""


def test_deep_values_are_refused_not_crashed() -> None:
    assert len(run(DEEP, "nest", [50]).return_value) == 51  # 50 one-tuples around ()
    for n, profile in ((200, vm.RECORDED_2020), (5000, vm.IRIS)):
        with pytest.raises(vm.VmNotImplemented):
            run(DEEP, "nest", [n], profile=profile)


def test_bytecode_hash_from_iris() -> None:
    from chan_nb.codec.hashing import blake2b_256

    code = (
        "FUNCTION h(contract) : variant(tuple(), tuple(bytes(32)))\n"
        "  BYTECODE_HASH a arg0\n"
        "  RETURN\n"
    )
    world = world_with({CONTRACT: code})
    serialized = assemble(code).serialize()
    me = Address(ObjectKind.CONTRACT, CONTRACT)
    result = run(code, "h", [me], world=world, profile=vm.IRIS)
    assert result.value == Variant((0, 1), 1, (Bytes(blake2b_256(serialized)),))
    # 100 + 1 per code byte + push, RETURN; Some(bytes(32)): simple ⌈3.2⌉ + final ⌈35.2⌉
    assert result.gas_used == 100 + len(serialized) + 1 + 10 + 4 + 36
    missing = run(code, "h", [Address(ObjectKind.CONTRACT, b"\x99" * 32)], profile=vm.IRIS)
    assert missing.value == Variant((0, 1), 0, ()) and missing.gas_used > 4900  # load first
    with pytest.raises(vm.VmNotImplemented, match="recorded node"):
        run(code, "h", [me], world=world)


def test_typereps_print_as_the_node_prints_them() -> None:
    bad = "FUNCTION f() : int\n  ADD a 'list(int) 1\n  RETURN\n"
    assert error(bad, "f") == b"Bad arguments to add: [{typerep,{list,integer}},1]"


WHO = """
FUNCTION payable me() : address
  ADDRESS a
  RETURN
FUNCTION payable who(contract) : address
  PUSH 0
  PUSH arg0
  CALL_R a &caller 'tuple() 'address a
  RETURN
"""


def test_contract_addresses_are_addresses() -> None:
    """ADDRESS and a remote callee's CALLER are address values (ak_), as make_address."""
    world = world_with({CONTRACT: WHO, OTHER: ENV})
    assert ok(WHO, "me", world=world) == Address(ObjectKind.ADDRESS, CONTRACT)
    callee = Address(ObjectKind.CONTRACT, OTHER)
    assert ok(WHO, "who", [callee], world=world) == Address(ObjectKind.ADDRESS, CONTRACT)


ORACLES = """
FUNCTION fee(oracle) : int
  ORACLE_QUERY_FEE a arg0
  RETURN
FUNCTION expiry(oracle) : int
  ORACLE_EXPIRY a arg0
  RETURN
FUNCTION check(oracle) : bool
  ORACLE_CHECK a arg0 'string 'int
  RETURN
FUNCTION check_query(oracle, oracle_query) : bool
  ORACLE_CHECK_QUERY a arg0 arg1 'string 'int
  RETURN
FUNCTION question(oracle, oracle_query) : string
  ORACLE_GET_QUESTION a arg0 arg1 'string 'int
  RETURN
FUNCTION answer(oracle, oracle_query) : variant(tuple(), tuple(int))
  ORACLE_GET_ANSWER a arg0 arg1 'string 'int
  RETURN
"""


def test_oracle_reads_come_from_the_pinned_chain() -> None:
    from chan_nb.codec.fate import encode
    from chan_nb.codec.fate import types as ft

    oracle_pk, asked, answered = b"\x0c" * 32, b"\x0d" * 32, b"\x0e" * 32
    chain = vm.StaticOnChain(
        oracles={oracle_pk: vm.OracleInfo(encode(ft.STRING), encode(ft.INT), query_fee=7, ttl=500)},
        queries={
            (oracle_pk, asked): vm.OracleQuery(encode("how much?")),
            (oracle_pk, answered): vm.OracleQuery(encode("and now?"), encode(42)),
        },
    )
    oracle = Address(ObjectKind.ORACLE, oracle_pk)
    q_asked = Address(ObjectKind.ORACLE_QUERY, asked)
    q_answered = Address(ObjectKind.ORACLE_QUERY, answered)
    assert ok(ORACLES, "fee", [oracle], onchain=chain) == 7
    assert run(ORACLES, "fee", [oracle], onchain=chain).gas_used == 100 + 1 + 10
    assert (
        run(ORACLES, "fee", [oracle], onchain=chain, profile=vm.IRIS).gas_used
        == 2000 + 1 + 10 + 1 + 2
    )
    assert ok(ORACLES, "expiry", [oracle], onchain=chain) == 500
    assert ok(ORACLES, "check", [oracle], onchain=chain) is True
    assert ok(ORACLES, "check_query", [oracle, q_asked], onchain=chain) is True
    assert ok(ORACLES, "question", [oracle, q_asked], onchain=chain) == "how much?"
    assert ok(ORACLES, "answer", [oracle, q_asked], onchain=chain) == Variant((0, 1), 0, ())
    assert ok(ORACLES, "answer", [oracle, q_answered], onchain=chain) == Variant((0, 1), 1, (42,))
    unknown = Address(ObjectKind.ORACLE, b"\x0f" * 32)
    assert error(ORACLES, "fee", [unknown], onchain=chain) == (
        b"Error in oracle_query_fee: oracle_does_not_exist"
    )
    assert ok(ORACLES, "check", [unknown], onchain=chain) is False
    assert error(ORACLES, "question", [unknown, q_asked], onchain=chain) == (
        b"Error in oracle_get_question: oracle_not_found"
    )
    missing = Address(ObjectKind.ORACLE_QUERY, b"\x10" * 32)
    assert error(ORACLES, "answer", [oracle, missing], onchain=chain) == (
        b"Error in oracle_get_answer: query_not_found"
    )


def test_oracle_reads_need_an_oracle_view() -> None:
    class NamesOnly:  # an OnChain without OnChainOracles (as the embedded node's chain)
        def account_balance(self, pubkey: bytes) -> int | None:
            return None

        def resolve_name(self, name: bytes, key: bytes) -> tuple[vm.PointerKind, bytes] | None:
            return None

        def is_oracle(self, pubkey: bytes) -> bool:
            return False

        def is_contract(self, pubkey: bytes) -> bool:
            return False

        def is_payable(self, pubkey: bytes) -> bool:
            return True

    with pytest.raises(vm.VmNotImplemented, match="OnChainOracles"):
        run(ORACLES, "fee", [Address(ObjectKind.ORACLE, b"\x0c" * 32)], onchain=NamesOnly())


def test_no_ga_authentication_inside_a_channel() -> None:
    code = (
        "FUNCTION tx() : variant(tuple(), tuple(any))\n  AUTH_TX a\n  RETURN\n"
        "FUNCTION hash() : variant(tuple(), tuple(bytes(32)))\n  AUTH_TX_HASH a\n  RETURN\n"
    )
    tx = run(code, "tx")
    assert tx.value == Variant((0, 1), 0, ()) and tx.gas_used == 100 + 8 + 1 + 10
    hashed = run(code, "hash")
    assert hashed.value == Variant((0, 1), 0, ()) and hashed.gas_used == 10 + 3 + 1 + 10


def test_aens_lookup_shows_a_claimed_name() -> None:
    code = "FUNCTION lookup(string) : any\n  AENS_LOOKUP a arg0\n  RETURN\n"
    owner, target = b"\x0a" * 32, b"\x0b" * 32
    chain = vm.StaticOnChain(
        names={b"x.chain": {b"account_pubkey": ("account", target), b"o": ("oracle", owner)}},
        name_owners={b"x.chain": (owner, 900)},
    )
    found = run(code, "lookup", ["x.chain"], onchain=chain)
    pointee = Variant((1, 1, 1, 1), 0, (Address(ObjectKind.ADDRESS, target),))
    oracle_pt = Variant((1, 1, 1, 1), 1, (Address(ObjectKind.ADDRESS, owner),))
    assert found.value == Variant(
        (0, 1),
        1,
        (
            Variant(
                (3,),
                0,
                (
                    Address(ObjectKind.ADDRESS, owner),
                    Variant((1, 1), 1, (900,)),
                    FateMap({"account_pubkey": pointee, "o": oracle_pt}),
                ),
            ),
        ),
    )
    assert found.gas_used == 100 + 1 + 10  # base 2000 from Iris
    assert ok(code, "lookup", ["y.chain"], onchain=chain) == Variant((0, 1), 0, ())
