"""FATE code: the code object, byte code, disassembler and assembler (fate.md §2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.codec import encoding
from chan_nb.codec.fate import (
    CodeObject,
    FateCode,
    assemble,
    decode_call,
    decode_result,
    disassemble,
    encode_call,
    function_id,
    parse_value,
    store_writers,
)
from chan_nb.codec.fate.asm import format_value
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address, Bits, Bytes, FateMap, Variant
from chan_nb.errors import DecodeError

#: sc_ws_basic_contracts round 2: the identity contract (fate.md §2.4)
IDENTITY = (
    "cb_+GZGA6AjCkIf8nA06kWznUewlO/mb+ZZlS2EaOxIL/ivjLd9tsC4OZ7+RNZEHwA3ADcAGg6CPwEDP/64F37sBDcB"
    "BwcBAQCWLwIRRNZEHxFpbml0EbgXfuwRbWFpboIvAIU0LjIuMADT5f3r"
)


def test_identity_code_object() -> None:
    co = CodeObject.from_api(IDENTITY)
    assert (co.version, co.compiler_version, co.payable, co.type_info) == (3, b"4.2.0", False, ())
    assert co.to_api() == IDENTITY
    code = co.fate()
    assert code.serialize() == co.byte_code
    assert code.names() == {function_id("init"): "init", function_id("main"): "main"}
    main = code.function("main")
    assert main.is_payable and not main.is_private
    assert disassemble(code) == (
        "FUNCTION init() : unit\n"
        "  STORE store1 ()\n"
        "  RETURNR ()\n"
        "FUNCTION payable main(int) : int\n"
        "  RETURNR arg0\n"
    )


def test_stripped_code_as_the_recorded_node_stores_it() -> None:
    stripped = CodeObject.deserialize(CodeObject.from_api(IDENTITY).for_channel())
    # the bytes fate.md §2.6 quotes from the recorded proofs of inclusion
    expected = "8dfeb8177eec04370107070101008c2f0111b8177eec116d61696e822f00"
    assert expected in stripped.byte_code.hex()
    assert list(stripped.fate().names().values()) == ["main"]


def test_six_operand_instruction_uses_two_mode_bytes() -> None:
    text = """
    FUNCTION payable call(contract, int) : int
      PUSH arg1
      PUSH 10000
      PUSH 10
      PUSH arg0
      CALL_GR a &main 'tuple(int) 'int a a
      RETURN
    """
    code = assemble(text)
    body = code.serialize().hex()
    assert "0c01020c036f8226d00c03140c010005" + "00fc" + "11b8177eec37010707" + "00" in body
    assert FateCode.deserialize(code.serialize()) == code


AK = "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha"


def test_assembler_round_trips_its_disassembly() -> None:
    text = """
    ;; a counter with a guard
    FUNCTION init(int) : unit
      STORE store1 arg0
      RETURNR ()
    FUNCTION payable tick() : unit
      INC store1
      RETURNR ()
    FUNCTION get() : int
      RETURNR store1
    FUNCTION private payable check(int) : bool
      GT a arg0 100
      JUMPIF a 2
      RETURNR true
      ABORT "too big; \\"really\\""
    FUNCTION lit() : any
      RETURNR ({1 => [true, false]}, #beef, <101>, !<1>, (| [0, 1] | 1 | (42) |))
    FUNCTION lit2() : any
      RETURNR [@AK, -0x10, "\\x00\\xff", 'map(int, list(bool)), storemap(2), code#00ff]
    """.replace("AK", AK)
    code = assemble(text)
    again = assemble(disassemble(code))
    assert again.serialize() == code.serialize()
    assert [f.id for f in code.functions] == sorted(f.id for f in code.functions)
    check = code.function("check")
    assert check.is_private and check.is_payable and len(check.blocks) == 3
    writers = store_writers(code)
    assert writers[function_id("tick")] and writers[function_id("init")]
    assert not writers[function_id("get")] and not writers[function_id("check")]


def test_store_writers_follow_local_calls_and_remote_calls() -> None:
    code = assemble(
        """
        FUNCTION a() : unit
          CALL &b
        FUNCTION b() : unit
          STORE store2 1
          RETURNR ()
        FUNCTION c() : int
          CALL_R arg0 &x 'tuple() 'int 0
        FUNCTION d() : int
          RETURNR 1
        """
    )
    w = store_writers(code)
    assert w[function_id("a")] and w[function_id("b")] and w[function_id("c")]
    assert not w[function_id("d")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("FUNCTION f() : int\n  FROB a", "unknown instruction"),
        ("FUNCTION f() : int\n  RETURNR", "takes 1 operands"),
        ("FUNCTION f() : int\n  RETURNR 1 2", "takes 1 operands"),
        ("FUNCTION f() : int\n  PUSH 1", "does not end a basic block"),
        ("FUNCTION f() : int\n  JUMP a", "immediate integer"),
        ("FUNCTION f() : int\n  CALL_R a 5 'int 'int a", "immediate string"),
        ("FUNCTION f() : int\n  SWITCH_VN a [1, true]", "list of ints"),
        ("  RETURN", "before the first FUNCTION"),
        ("FUNCTION f( : int\n  RETURN", "FUNCTION header"),
        ("FUNCTION f() : integer\n  RETURN", "unknown type"),
        ("FUNCTION f() : int\n  RETURN\nFUNCTION f() : int\n  RETURN", "same id"),
        ('FUNCTION f() : int\n  RETURNR "abc', "unterminated"),
        ("FUNCTION f() : int\n  RETURNR #abc", "even number"),
        ("FUNCTION f() : int\n  RETURNR (| [0] | 1 | () |)", "tag 1 out of range"),
        ("FUNCTION f() : int\n  RETURNR {{} => 1}", "map cannot be"),
    ],
)
def test_assembler_errors_name_the_line(text: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as info:
        assemble(text)
    assert info.value.where is not None and info.value.where.startswith(("line", "assembly"))


def _code_bytes(functions_hex: str) -> bytes:
    from chan_nb.codec import rlp

    return rlp.encode(bytes.fromhex(functions_hex)) + rlp.encode(b"\x2f\x00") * 2


@pytest.mark.parametrize(
    ("functions_hex", "reason"),
    [
        ("01013f", "before the first FUNCTION"),
        ("fe44d6441f00370007ff", "unknown opcode ff"),
        ("fe44d6441f003700070c0302", "does not end a block"),
        ("fe44d6441f00370007ee", "unknown opcode ee"),
        ("fe44d6441f0037000701073f", "mode bits set"),
        ("fe44d6441f0837000700", "unknown function attributes"),
        ("fe44d644", "4-byte id"),
        ("fe44d6441f0007000700", "tuple type"),
        ("fe44d6441f003700070103", "ends where a value"),
        ("fe44d6441f003700070102ff", "not an integer"),
        ("fe44d6441f003700070100fe44d6441f00370007" + "00", "same id"),
    ],
)
def test_byte_code_decoder_is_strict(functions_hex: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        FateCode.deserialize(_code_bytes(functions_hex))


def test_byte_code_trailing_and_bad_tables() -> None:
    good = _code_bytes("fe44d6441f003700070100")
    FateCode.deserialize(good)
    with pytest.raises(DecodeError, match="trailing"):
        FateCode.deserialize(good + b"\x00")
    from chan_nb.codec import rlp

    with pytest.raises(DecodeError, match="FATE map"):
        FateCode.deserialize(rlp.encode(b"") + rlp.encode(b"\x03") + rlp.encode(b"\x2f\x00"))


def test_code_object_errors() -> None:
    with pytest.raises(DecodeError, match="tag 70"):
        CodeObject.deserialize(bytes.fromhex("c3470300"))
    with pytest.raises(DecodeError, match="fields"):
        CodeObject.deserialize(bytes.fromhex("c3460300"))
    raw = encoding.decode(IDENTITY, "cb")
    with pytest.raises(DecodeError, match="boolean"):
        CodeObject.deserialize(raw[:-1] + b"\x02")


def test_call_data_and_results() -> None:
    raw = encoding.decode("cb_KxG4F37sG1Q/+F7e", "cb")  # main(42), fate.md §1.9
    assert raw == bytes.fromhex("2b11b8177eec1b54")
    call = decode_call(raw)
    assert (call.name, call.args, str(call)) == ("main", (42,), "main(42)")
    assert encode_call("main", [42]) == raw == call.encode()
    assert decode_call(encode_call(bytes.fromhex("4b050ea9"), [1, 2])).name is None
    for bad in ("2b1154", "1b11b8177eec", "2b54" + "3f", "2b11b8177eec54"):
        with pytest.raises(DecodeError):
            decode_call(bytes.fromhex(bad))
    assert decode_result("ok", b"\x54").value == 42
    assert decode_result(2, bytes.fromhex("15") + b"nope!"[:5]).message == "nope!"
    err = decode_result("error", b"Out of gas")
    assert (err.return_type, err.message) == ("error", "Out of gas")
    with pytest.raises(DecodeError, match="return type"):
        decode_result(7, b"")


@pytest.mark.parametrize(
    "value",
    [
        42,
        -(2**300),
        "hé\x00",
        b"\xff\x00",
        (1, (2, ())),
        [[], [1]],
        FateMap({"k": [1]}),
        Bytes(b"\x01\x02"),
        Bits(-6),
        Bits(0),
        Variant((0, 2), 1, (1, False)),
        Address(ObjectKind.ORACLE, b"\x01" * 32),
        Address(ObjectKind.CHANNEL, b"\x01\x02"),
    ],
)
def test_value_text_round_trip(value: object) -> None:
    assert parse_value(format_value(value)) == value


def test_value_text_errors() -> None:
    for bad in ("", "foo", "(1, 2", "[1 2", "@ak_bad", "{1 => }", "!<2>"):
        with pytest.raises(DecodeError):
            parse_value(bad)


# -- fuzz: damaged code raises DecodeError and nothing else ---------------------------------

_RAW = encoding.decode(IDENTITY, "cb")


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(_RAW) - 1), st.integers(0, 255), st.integers(0, len(_RAW)))
def test_damaged_code_objects_decode_or_refuse(pos: int, byte: int, cut: int) -> None:
    damaged = (_RAW[:pos] + bytes([byte]) + _RAW[pos + 1 :])[:cut]
    try:
        co = CodeObject.deserialize(damaged)
        code = co.fate()
    except DecodeError:
        return
    assert co.serialize() == damaged and code.serialize() == co.byte_code


_BYTE_CODE = CodeObject.from_api(IDENTITY).byte_code


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=12), st.integers(0, len(_BYTE_CODE)))
def test_damaged_byte_code_decodes_or_refuses(junk: bytes, pos: int) -> None:
    damaged = _BYTE_CODE[:pos] + junk + _BYTE_CODE[pos + len(junk) :]
    try:
        code = FateCode.deserialize(damaged)
    except DecodeError:
        return
    assert code.serialize() == damaged
    assert assemble(disassemble(code), check_formats=False).serialize() == code.serialize()


def test_docstring_examples() -> None:
    import doctest

    import chan_nb.codec.fate

    result = doctest.testmod(chan_nb.codec.fate)
    assert result.attempted >= 3 and result.failed == 0


def test_aebytecode_contract_bytearray_vector() -> None:
    # aeternity/aebytecode test/aeb_serialize_test.erl: `init() = 2137`, compiled by 4.3.0
    raw = bytes.fromhex(
        "f8514603a01feac1d3adcb6b70d1b011af0c3de8bb8841c88e7c5cb01ce503920ad189f5d6c0a594"
        "fe44d6441f00370037001a0e826f82081901033f8c2f011144d6441f11696e6974822f0085342e332e3000"
    )
    co = CodeObject.deserialize(raw)
    assert co.compiler_version == b"4.3.0" and co.serialize() == raw
    assert disassemble(co.fate()) == "FUNCTION init() : unit\n  STORE store1 2137\n  RETURNR ()\n"
    from chan_nb.codec.fate import ContractBytearray, decode, encode

    value = ContractBytearray(raw)
    assert decode(encode(value)) == value
    assert encode(value)[:3] == bytes([0x8F, 0x6F, len(raw) - 64])


def test_opcode_table() -> None:
    from chan_nb.codec.fate import opcodes

    assert len(opcodes.OPS) == 191 == len(opcodes.BY_CODE) == len(opcodes.BY_NAME)
    assert opcodes.FUNCTION not in opcodes.BY_CODE and opcodes.EXTEND not in opcodes.BY_CODE
    enders = {op.name for op in opcodes.OPS if op.ends_bb}
    assert enders == {
        "RETURN", "RETURNR", "CALL", "CALL_R", "CALL_T", "CALL_GR", "JUMP", "JUMPIF",
        "SWITCH_V2", "SWITCH_V3", "SWITCH_VN", "CALL_PGR", "CREATE", "CLONE", "CLONE_G",
        "ABORT", "EXIT",
    }  # fmt: skip
    call_gr = opcodes.BY_NAME["CALL_GR"]
    assert (call_gr.code, call_gr.args) == (0x05, ("a", "is", "a", "a", "a", "a"))
    spend = opcodes.BY_NAME["SPEND"]
    assert (spend.gas, spend.gas_iris, spend.writes, spend.auth) == (100, 5000, False, False)
    assert opcodes.BY_NAME["STORE"].writes and not opcodes.BY_NAME["PUSH"].writes
    assert opcodes.BY_NAME["LENGTH"].until_vm == 5 and opcodes.BY_NAME["BSL"].from_vm == 8
    assert not opcodes.BY_NAME["ORACLE_QUERY"].off_chain
    assert max(op.arity for op in opcodes.OPS) == 8


def test_effects_of_functions() -> None:
    from chan_nb.codec.fate.bytecode import effects

    code = assemble(
        """
        FUNCTION pay(address, int) : unit
          SPEND arg0 arg1
          RETURNR ()
        FUNCTION relay(contract) : int
          CALL_R arg0 &main 'tuple() 'int 0
        FUNCTION indirect(string) : unit
          CALL arg0
        FUNCTION via() : unit
          CALL_T &pay
        FUNCTION pure(int) : int
          ADD a arg0 1
          RETURN
        FUNCTION missing() : unit
          CALL &nowhere
        """
    )
    found = {code.name_of(k): v for k, v in effects(code).items()}
    assert found == {
        "pay": {"spend"},
        "relay": {"remote"},
        "indirect": {"dynamic"},
        "via": {"spend"},
        "pure": set(),
        "missing": set(),  # calling an undefined function fails: it changes nothing
    }
