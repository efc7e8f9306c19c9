# ruff: noqa: E501  (a table: one opcode per line reads better than wrapped rows)
"""The FATE instruction set: one row per opcode (fate.md §3.1, from aebytecode's op table).

Each :class:`OpInfo` says how an instruction is encoded (its operand formats: ``a`` any
mode, ``is``/``ii``/``li`` an immediate string / integer / list of integers), whether
it ends a basic block, where it may run (GA authentication, off-chain) and its base
gas for the recorded (pre-Iris) node and from Iris on. ``writes`` says the first
operand is a destination (what a static look at the code needs to tell whether a
function can change the contract store). The VM reads the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ArgFormat = Literal["a", "is", "ii", "li"]


@dataclass(frozen=True, slots=True)
class OpInfo:
    """One FATE instruction."""

    code: int
    name: str
    args: tuple[ArgFormat, ...]
    ends_bb: bool
    auth: bool  # allowed in a generalized account's authentication call
    off_chain: bool  # allowed inside a state channel
    gas: int  # base gas before Iris, and in the recorded (2020) node
    gas_iris: int  # base gas from consensus protocol 5 (Iris) on
    from_vm: int  # first FATE vm version that runs it
    until_vm: int | None  # last vm version that runs it (None: still current)
    writes: bool  # operand 0 is written (a destination)
    doc: str

    @property
    def arity(self) -> int:
        return len(self.args)


_FORMATS: Final[dict[str, ArgFormat]] = {"a": "a", "is": "is", "ii": "ii", "li": "li"}


def _op(
    code: int, name: str, args: str, flags: str, gas: tuple[int, int], vm: str, doc: str
) -> OpInfo:
    fmts = tuple(_FORMATS[a] for a in args.split())
    until = 5 if vm.endswith("only") else None
    return OpInfo(
        code,
        name,
        fmts,
        ends_bb="E" in flags,
        auth="A" in flags,
        off_chain="O" in flags,
        gas=gas[0],
        gas_iris=gas[1],
        from_vm=int(vm.split()[0]),
        until_vm=until,
        writes="W" in flags,
        doc=doc,
    )


# fmt: off
#: Every opcode: code, mnemonic, operand formats, flags (E ends a basic block, A allowed
#: in GA auth, O allowed off-chain, W writes operand 0), (gas, gas from Iris), from vm.
OPS: Final[tuple[OpInfo, ...]] = (
    _op(0x00, "RETURN", "", "EAO", (10, 10), "5", "return top of stack to caller"),
    _op(0x01, "RETURNR", "a", "EAO", (10, 10), "5", "push a0, then return"),
    _op(0x02, "CALL", "a", "EAO", (10, 10), "5", "local call of function hash a0; args popped per its signature; new frame"),
    _op(0x03, "CALL_R", "a is a a a", "EO", (100, 100), "5", "remote call: contract a0, fun-hash a1, arg typerep a2, ret typerep a3, value a4; args popped"),
    _op(0x04, "CALL_T", "a", "EAO", (10, 10), "5", "local tail call of a0 (no new frame)"),
    _op(0x05, "CALL_GR", "a is a a a a", "EO", (100, 100), "5", "as CALL_R with gas cap a5"),
    _op(0x06, "JUMP", "ii", "EAO", (10, 10), "5", "goto BB a0 of current function"),
    _op(0x07, "JUMPIF", "a ii", "EAO", (10, 10), "5", "if a0 == true goto BB a1 (non-bool aborts from Iris)"),
    _op(0x08, "SWITCH_V2", "a ii ii", "EAO", (10, 10), "5", "variant a0 with 2 constructors: tag 0→BB a1, 1→BB a2"),
    _op(0x09, "SWITCH_V3", "a ii ii ii", "EAO", (10, 10), "5", "variant a0 with 3 constructors: tag i→BB a(i+1)"),
    _op(0x0a, "SWITCH_VN", "a li", "EAO", (10, 10), "5", "variant a0: goto BB list a1[tag] (list length must equal #constructors)"),
    _op(0x0b, "CALL_VALUE", "a", "AOW", (10, 10), "5", "a0 ← value sent with current call"),
    _op(0x0c, "PUSH", "a", "AO", (10, 10), "5", "push a0"),
    _op(0x0d, "DUPA", "", "AO", (10, 10), "5", "push copy of top"),
    _op(0x0e, "DUP", "a", "AO", (10, 10), "5", "push copy of stack element at depth a0"),
    _op(0x0f, "POP", "a", "AOW", (10, 10), "5", "a0 ← pop"),
    _op(0x10, "INCA", "", "AO", (10, 10), "5", "top ← top + 1"),
    _op(0x11, "INC", "a", "AOW", (10, 10), "5", "a0 ← a0 + 1"),
    _op(0x12, "DECA", "", "AO", (10, 10), "5", "top ← top − 1"),
    _op(0x13, "DEC", "a", "AOW", (10, 10), "5", "a0 ← a0 − 1"),
    _op(0x14, "ADD", "a a a", "AOW", (10, 10), "5", "a0 ← a1 + a2"),
    _op(0x15, "SUB", "a a a", "AOW", (10, 10), "5", "a0 ← a1 − a2"),
    _op(0x16, "MUL", "a a a", "AOW", (10, 10), "5", "a0 ← a1 × a2"),
    _op(0x17, "DIV", "a a a", "AOW", (10, 10), "5", "a0 ← a1 div a2, truncating toward 0; ÷0 aborts"),
    _op(0x18, "MOD", "a a a", "AOW", (10, 10), "5", "a0 ← a1 rem a2 (sign of a1); ÷0 aborts"),
    _op(0x19, "POW", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ^ a2 (a2 ≥ 0)"),
    _op(0x1a, "STORE", "a a", "AOW", (10, 10), "5", "a0 ← a1 (a0 may be a store register)"),
    _op(0x1b, "SHA3", "a a", "AOW", (100, 100), "5", "a0 ← Keccak-256 of a1 (see §3.2.6)"),
    _op(0x1c, "SHA256", "a a", "AOW", (100, 100), "5", "a0 ← SHA-256 of a1"),
    _op(0x1d, "BLAKE2B", "a a", "AOW", (100, 100), "5", "a0 ← BLAKE2b-256 of a1"),
    _op(0x1e, "LT", "a a a", "AOW", (10, 10), "5", "a0 ← a1 < a2 (total order §1.7)"),
    _op(0x1f, "GT", "a a a", "AOW", (10, 10), "5", "a0 ← a1 > a2"),
    _op(0x20, "EQ", "a a a", "AOW", (10, 10), "5", "a0 ← a1 == a2"),
    _op(0x21, "ELT", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ≤ a2"),
    _op(0x22, "EGT", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ≥ a2"),
    _op(0x23, "NEQ", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ≠ a2"),
    _op(0x24, "AND", "a a a", "AOW", (10, 10), "5", "a0 ← a1 and a2 (strict booleans)"),
    _op(0x25, "OR", "a a a", "AOW", (10, 10), "5", "a0 ← a1 or a2"),
    _op(0x26, "NOT", "a a", "AOW", (10, 10), "5", "a0 ← not a1"),
    _op(0x27, "TUPLE", "a ii", "AOW", (10, 10), "5", "a0 ← tuple of the top a1 (immediate) stack values, in push order (old top = last element)"),
    _op(0x28, "ELEMENT", "a a a", "AOW", (10, 10), "5", "a0 ← element a1 (0-based) of tuple a2"),
    _op(0x29, "SETELEMENT", "a a a a", "AOW", (10, 10), "5", "a0 ← copy of tuple a2 with element a1 := a3"),
    _op(0x2a, "MAP_EMPTY", "a", "AOW", (10, 10), "5", "a0 ← {}"),
    _op(0x2b, "MAP_LOOKUP", "a a a", "AOW", (10, 10), "5", "a0 ← a1[a2]; missing key aborts"),
    _op(0x2c, "MAP_LOOKUPD", "a a a a", "AOW", (10, 10), "5", "a0 ← a1[a2] or default a3"),
    _op(0x2d, "MAP_UPDATE", "a a a a", "AOW", (10, 10), "5", "a0 ← a1 with a2 ↦ a3"),
    _op(0x2e, "MAP_DELETE", "a a a", "AOW", (10, 10), "5", "a0 ← a1 without key a2"),
    _op(0x2f, "MAP_MEMBER", "a a a", "AOW", (10, 10), "5", "a0 ← a2 ∈ keys(a1)"),
    _op(0x30, "MAP_FROM_LIST", "a a", "AOW", (10, 10), "5", "a0 ← map from list a1 of 2-tuples"),
    _op(0x31, "MAP_SIZE", "a a", "AOW", (10, 10), "5", "a0 ← number of keys of a1"),
    _op(0x32, "MAP_TO_LIST", "a a", "AOW", (10, 10), "5", "a0 ← list of (k,v) tuples of a1, sorted by key (Iris+)"),
    _op(0x33, "IS_NIL", "a a", "AOW", (10, 10), "5", "a0 ← (a1 == [])"),
    _op(0x34, "CONS", "a a a", "AOW", (10, 10), "5", "a0 ← a1 consed onto list a2"),
    _op(0x35, "HD", "a a", "AOW", (10, 10), "5", "a0 ← head of a1; [] aborts"),
    _op(0x36, "TL", "a a", "AOW", (10, 10), "5", "a0 ← tail of a1; [] aborts"),
    _op(0x37, "LENGTH", "a a", "AOW", (10, 10), "5 only", "a0 ← length of a1 — vm 5 only, aborts in vm ≥ 7"),
    _op(0x38, "NIL", "a", "AOW", (10, 10), "5", "a0 ← []"),
    _op(0x39, "APPEND", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ++ a2"),
    _op(0x3a, "STR_JOIN", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ‖ a2"),
    _op(0x3b, "INT_TO_STR", "a a", "AOW", (100, 100), "5", "a0 ← decimal text of a1"),
    _op(0x3c, "ADDR_TO_STR", "a a", "AOW", (100, 100), "5", "a0 ← \"ak_…\" text of address a1"),
    _op(0x3d, "STR_REVERSE", "a a", "AOW", (100, 100), "5", "a0 ← reverse of a1 (by code point from vm 7, by byte in vm 5)"),
    _op(0x3e, "STR_LENGTH", "a a", "AOW", (10, 10), "5", "a0 ← length of a1 (code points from vm 7; bytes in vm 5)"),
    _op(0x3f, "BYTES_TO_INT", "a a", "AOW", (10, 10), "5", "a0 ← unsigned big-endian value of bytes a1"),
    _op(0x40, "BYTES_TO_STR", "a a", "AOW", (100, 100), "5", "a0 ← upper-case hex text of bytes a1"),
    _op(0x41, "BYTES_CONCAT", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ‖ a2 (bytes)"),
    _op(0x42, "BYTES_SPLIT", "a a a", "AOW", (10, 10), "5", "a0 ← (first a2 bytes, rest) of a1; too short aborts"),
    _op(0x43, "INT_TO_ADDR", "a a", "AOW", (10, 10), "5", "disabled: always aborts"),
    _op(0x44, "VARIANT", "a a a a", "AOW", (10, 10), "5", "a0 ← variant: arities a1 (list), tag a2, the top a3 stack values in push order"),
    _op(0x45, "VARIANT_TEST", "a a a", "AOW", (10, 10), "5", "a0 ← (tag of a1 == a2)"),
    _op(0x46, "VARIANT_ELEMENT", "a a a", "AOW", (10, 10), "5", "a0 ← value a2 (0-based) of variant a1"),
    _op(0x47, "BITS_NONEA", "", "AO", (10, 10), "5", "push empty bit set"),
    _op(0x48, "BITS_NONE", "a", "AOW", (10, 10), "5", "a0 ← empty bit set"),
    _op(0x49, "BITS_ALLA", "", "AO", (10, 10), "5", "push full (infinite) bit set"),
    _op(0x4a, "BITS_ALL", "a", "AOW", (10, 10), "5", "a0 ← full bit set"),
    _op(0x4b, "BITS_ALL_N", "a a", "AOW", (10, 10), "5", "a0 ← bits 0..a1−1 set"),
    _op(0x4c, "BITS_SET", "a a a", "AOW", (10, 10), "5", "a0 ← a1 with bit a2 set"),
    _op(0x4d, "BITS_CLEAR", "a a a", "AOW", (10, 10), "5", "a0 ← a1 with bit a2 cleared"),
    _op(0x4e, "BITS_TEST", "a a a", "AOW", (10, 10), "5", "a0 ← bit a2 of a1"),
    _op(0x4f, "BITS_SUM", "a a", "AOW", (10, 10), "5", "a0 ← popcount of a1 (infinite set aborts)"),
    _op(0x50, "BITS_OR", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ∪ a2"),
    _op(0x51, "BITS_AND", "a a a", "AOW", (10, 10), "5", "a0 ← a1 ∩ a2"),
    _op(0x52, "BITS_DIFF", "a a a", "AOW", (10, 10), "5", "a0 ← a1 minus a2 (set difference)"),
    _op(0x53, "BALANCE", "a", "AOW", (10, 10), "5", "a0 ← balance of current contract"),
    _op(0x54, "ORIGIN", "a", "AOW", (10, 10), "5", "a0 ← address that started the transaction/update"),
    _op(0x55, "CALLER", "a", "AOW", (10, 10), "5", "a0 ← immediate caller (account or calling contract)"),
    _op(0x56, "BLOCKHASH", "a a", "AOW", (10, 1000), "5", "a0 ← Some(hash) of key block at height a1 if within last 256, else None"),
    _op(0x57, "BENEFICIARY", "a", "AOW", (10, 10), "5", "a0 ← beneficiary of the key block"),
    _op(0x58, "TIMESTAMP", "a", "AOW", (10, 10), "5", "a0 ← block time (ms)"),
    _op(0x59, "GENERATION", "a", "AOW", (10, 10), "5", "a0 ← key-block height"),
    _op(0x5a, "MICROBLOCK", "a", "AOW", (10, 10), "5", "not implemented: aborts (Iris+)"),
    _op(0x5b, "DIFFICULTY", "a", "AOW", (10, 10), "5", "a0 ← key-block difficulty"),
    _op(0x5c, "GASLIMIT", "a", "AOW", (10, 10), "5", "a0 ← block gas limit constant"),
    _op(0x5d, "GAS", "a", "AOW", (10, 10), "5", "a0 ← gas left (after this op's base cost)"),
    _op(0x5e, "ADDRESS", "a", "AOW", (10, 10), "5", "a0 ← address of current contract"),
    _op(0x5f, "GASPRICE", "a", "AOW", (10, 10), "5", "a0 ← gas price of the call"),
    _op(0x60, "LOG0", "a", "AO", (1000, 1000), "5", "event: payload a0 (string or bytes), no topics"),
    _op(0x61, "LOG1", "a a", "AO", (1100, 1100), "5", "event: payload a0, topic a1"),
    _op(0x62, "LOG2", "a a a", "AO", (1200, 1200), "5", "event: payload a0, topics a1..a2"),
    _op(0x63, "LOG3", "a a a a", "AO", (1300, 1300), "5", "event: payload a0, topics a1..a3"),
    _op(0x64, "LOG4", "a a a a a", "AO", (1400, 1400), "5", "event: payload a0, topics a1..a4"),
    _op(0x65, "SPEND", "a a", "O", (100, 5000), "5", "transfer a1 from current contract to address a0"),
    _op(0x66, "ORACLE_REGISTER", "a a a a a a a", "W", (100, 10000), "5", "a0 ← oracle: sig a1, account a2, fee a3, ttl a4, qtype a5, rtype a6"),
    _op(0x67, "ORACLE_QUERY", "a a a a a a a a", "W", (100, 10000), "5", "a0 ← query id: oracle a1, question a2, fee a3, qttl a4, rttl a5, types a6,a7"),
    _op(0x68, "ORACLE_RESPOND", "a a a a a a", "", (100, 10000), "5", "sig a0, oracle a1, query a2, response a3, types a4,a5"),
    _op(0x69, "ORACLE_EXTEND", "a a a", "", (100, 10000), "5", "sig a0, oracle a1, relative ttl a2"),
    _op(0x6a, "ORACLE_GET_ANSWER", "a a a a a", "OW", (100, 2000), "5", "a0 ← Some(answer)/None for oracle a1, query a2 (types a3,a4)"),
    _op(0x6b, "ORACLE_GET_QUESTION", "a a a a a", "OW", (100, 2000), "5", "a0 ← question of query a2 at oracle a1 (types a3,a4)"),
    _op(0x6c, "ORACLE_QUERY_FEE", "a a", "OW", (100, 2000), "5", "a0 ← query fee of oracle a1"),
    _op(0x6d, "AENS_RESOLVE", "a a a a", "OW", (100, 2000), "5", "a0 ← Some(v)/None: name a1, pointer key a2, result typerep a3"),
    _op(0x6e, "AENS_PRECLAIM", "a a a", "", (100, 10000), "5", "sig a0, account a1, commitment hash a2"),
    _op(0x6f, "AENS_CLAIM", "a a a a a", "", (100, 10000), "5", "sig a0, account a1, name a2, salt a3, name fee a4"),
    _op(0x70, "AENS_UPDATE", "a a a a a a", "", (100, 10000), "5", "sig a0, owner a1, name a2, opt ttl a3, opt client ttl a4, opt pointers a5"),
    _op(0x71, "AENS_TRANSFER", "a a a a", "", (100, 10000), "5", "sig a0, from a1, to a2, name a3"),
    _op(0x72, "AENS_REVOKE", "a a a", "", (100, 10000), "5", "sig a0, account a1, name a2"),
    _op(0x73, "BALANCE_OTHER", "a a", "AOW", (50, 2000), "5", "a0 ← balance of address a1 (unknown → 0)"),
    _op(0x74, "VERIFY_SIG", "a a a a", "AOW", (1300, 1300), "5", "a0 ← Ed25519 verify(msg a1, pubkey a2, sig a3); vm ≤ 7 msg must be 32 bytes"),
    _op(0x75, "VERIFY_SIG_SECP256K1", "a a a a", "AOW", (1300, 1300), "5", "a0 ← ECDSA-secp256k1 verify(digest32 a1, pk64 a2, sig64 a3)"),
    _op(0x76, "CONTRACT_TO_ADDRESS", "a a", "AOW", (10, 10), "5", "a0 ← a1 retyped contract→address"),
    _op(0x77, "AUTH_TX_HASH", "a", "AOW", (10, 10), "5", "a0 ← Some(tx hash) in GA auth context, else None"),
    _op(0x78, "ORACLE_CHECK", "a a a a", "OW", (100, 100), "5", "a0 ← a1 is an oracle with types a2,a3"),
    _op(0x79, "ORACLE_CHECK_QUERY", "a a a a a", "OW", (100, 100), "5", "a0 ← a2 is a query of oracle a1 with types a3,a4"),
    _op(0x7a, "IS_ORACLE", "a a", "OW", (100, 100), "5", "a0 ← address a1 is an oracle"),
    _op(0x7b, "IS_CONTRACT", "a a", "OW", (100, 100), "5", "a0 ← address a1 is a contract"),
    _op(0x7c, "IS_PAYABLE", "a a", "OW", (100, 100), "5", "a0 ← address a1 accepts payments (unknown → true)"),
    _op(0x7d, "CREATOR", "a", "AOW", (10, 10), "5", "a0 ← owner (creator) of current contract"),
    _op(0x7e, "ECVERIFY_SECP256K1", "a a a a", "AOW", (1300, 1300), "5", "a0 ← bool: recover(digest32 a1, sig65 a3) == 20-byte address a2"),
    _op(0x7f, "ECRECOVER_SECP256K1", "a a a", "AOW", (1300, 1300), "5", "a0 ← Some(20-byte address)/None from digest32 a1, sig65 a2"),
    _op(0x80, "ADDRESS_TO_CONTRACT", "a a", "AOW", (10, 10), "5", "a0 ← a1 retyped address→contract"),
    _op(0x81, "BLS12_381_G1_NEG", "a a", "AOW", (100, 100), "7", "a0 ← −P (G1)"),
    _op(0x82, "BLS12_381_G1_NORM", "a a", "AOW", (100, 100), "7", "a0 ← normalised P (G1)"),
    _op(0x83, "BLS12_381_G1_VALID", "a a", "AOW", (2000, 2000), "7", "a0 ← P ∈ G1"),
    _op(0x84, "BLS12_381_G1_IS_ZERO", "a a", "AOW", (30, 30), "7", "a0 ← P == 0 (G1)"),
    _op(0x85, "BLS12_381_G1_ADD", "a a a", "AOW", (100, 100), "7", "a0 ← a1 + a2 (G1)"),
    _op(0x86, "BLS12_381_G1_MUL", "a a a", "AOW", (1000, 1000), "7", "a0 ← scalar a1 (Fr) × point a2 (G1)"),
    _op(0x87, "BLS12_381_G2_NEG", "a a", "AOW", (100, 100), "7", "a0 ← −P (G2)"),
    _op(0x88, "BLS12_381_G2_NORM", "a a", "AOW", (100, 100), "7", "a0 ← normalised P (G2)"),
    _op(0x89, "BLS12_381_G2_VALID", "a a", "AOW", (2000, 2000), "7", "a0 ← P ∈ G2"),
    _op(0x8a, "BLS12_381_G2_IS_ZERO", "a a", "AOW", (30, 30), "7", "a0 ← P == 0 (G2)"),
    _op(0x8b, "BLS12_381_G2_ADD", "a a a", "AOW", (100, 100), "7", "a0 ← a1 + a2 (G2)"),
    _op(0x8c, "BLS12_381_G2_MUL", "a a a", "AOW", (1000, 1000), "7", "a0 ← scalar a1 (Fr) × point a2 (G2)"),
    _op(0x8d, "BLS12_381_GT_INV", "a a", "AOW", (100, 100), "7", "a0 ← a1⁻¹ (GT)"),
    _op(0x8e, "BLS12_381_GT_ADD", "a a a", "AOW", (100, 100), "7", "a0 ← a1 + a2 (GT)"),
    _op(0x8f, "BLS12_381_GT_MUL", "a a a", "AOW", (100, 100), "7", "a0 ← a1 × a2 (GT)"),
    _op(0x90, "BLS12_381_GT_POW", "a a a", "AOW", (2000, 2000), "7", "a0 ← a1 ^ a2 (GT, Fr exponent)"),
    _op(0x91, "BLS12_381_GT_IS_ONE", "a a", "AOW", (30, 30), "7", "a0 ← a1 == 1 (GT)"),
    _op(0x92, "BLS12_381_PAIRING", "a a a", "AOW", (12000, 12000), "7", "a0 ← e(G1 a1, G2 a2)"),
    _op(0x93, "BLS12_381_MILLER_LOOP", "a a a", "AOW", (5000, 5000), "7", "a0 ← Miller loop of (G1 a1, G2 a2)"),
    _op(0x94, "BLS12_381_FINAL_EXP", "a a", "AOW", (7000, 7000), "7", "a0 ← final exponentiation of a1"),
    _op(0x95, "BLS12_381_INT_TO_FR", "a a", "AOW", (30, 30), "7", "a0 ← Fr (32 bytes, Montgomery) of int a1"),
    _op(0x96, "BLS12_381_INT_TO_FP", "a a", "AOW", (30, 30), "7", "a0 ← Fp (48 bytes, Montgomery) of int a1"),
    _op(0x97, "BLS12_381_FR_TO_INT", "a a", "AOW", (30, 30), "7", "a0 ← int of Fr a1"),
    _op(0x98, "BLS12_381_FP_TO_INT", "a a", "AOW", (30, 30), "7", "a0 ← int of Fp a1"),
    _op(0x99, "AENS_LOOKUP", "a a", "OW", (100, 2000), "7", "a0 ← Some(AENS.Name(owner, ttl, pointers)) / None for name a1"),
    _op(0x9a, "ORACLE_EXPIRY", "a a", "OW", (100, 2000), "7", "a0 ← expiry height of oracle a1"),
    _op(0x9b, "AUTH_TX", "a", "AOW", (100, 100), "7", "a0 ← Some(tx description) in GA auth context, else None"),
    _op(0x9c, "STR_TO_LIST", "a a", "AOW", (100, 100), "7", "a0 ← list of code points (NFC) of a1"),
    _op(0x9d, "STR_FROM_LIST", "a a", "AOW", (100, 100), "7", "a0 ← string from code-point list a1"),
    _op(0x9e, "STR_TO_UPPER", "a a", "AOW", (100, 100), "7", "a0 ← upper-case a1"),
    _op(0x9f, "STR_TO_LOWER", "a a", "AOW", (100, 100), "7", "a0 ← lower-case a1"),
    _op(0xa0, "CHAR_TO_INT", "a a", "AOW", (10, 10), "7", "a0 ← a1 (char is an int)"),
    _op(0xa1, "CHAR_FROM_INT", "a a", "AOW", (10, 10), "7", "a0 ← Some(char)/None for int a1"),
    _op(0xa2, "CALL_PGR", "a is a a a a a", "EO", (100, 100), "7", "as CALL_GR, a6 = protected flag; protected failure ⇒ push None and continue"),
    _op(0xa3, "CREATE", "a a a", "EO", (10000, 10000), "7", "deploy code a0 (contract bytearray), init arg typerep a1, value a2; runs init"),
    _op(0xa4, "CLONE", "a a a a", "EO", (5000, 5000), "7", "deploy a contract referencing the code of a0; init typerep a1, value a2, protected a3"),
    _op(0xa5, "CLONE_G", "a a a a a", "EO", (5000, 5000), "7", "as CLONE with gas cap a3, protected a4"),
    _op(0xa6, "BYTECODE_HASH", "a a", "AOW", (100, 100), "7", "a0 ← Some(BLAKE2b of serialized FATE code of a1) / None"),
    _op(0xa7, "FEE", "a", "AOW", (10, 10), "7", "a0 ← fee of the current transaction"),
    _op(0xa8, "ADDRESS_TO_BYTES", "a a", "AOW", (10, 10), "8", "a0 ← 32 raw bytes of address a1"),
    _op(0xa9, "POSEIDON", "a a a", "AOW", (6000, 6000), "8", "a0 ← Poseidon hash of a1, a2 (BLS12-381 scalar field)"),
    _op(0xaa, "MULMOD", "a a a a", "AOW", (10, 10), "8", "a0 ← (a1 × a2) rem a3"),
    _op(0xab, "BAND", "a a a", "AOW", (10, 10), "8", "a0 ← a1 & a2"),
    _op(0xac, "BOR", "a a a", "AOW", (10, 10), "8", "a0 ← a1 or a2 (bitwise)"),
    _op(0xad, "BXOR", "a a a", "AOW", (10, 10), "8", "a0 ← a1 ^ a2"),
    _op(0xae, "BNOT", "a a", "AOW", (10, 10), "8", "a0 ← ~a1"),
    _op(0xaf, "BSL", "a a a", "AOW", (10, 10), "8", "a0 ← a1 << a2"),
    _op(0xb0, "BSR", "a a a", "AOW", (10, 10), "8", "a0 ← a1 >> a2 (arithmetic)"),
    _op(0xb1, "BYTES_SPLIT_ANY", "a a a", "AOW", (10, 10), "8", "a0 ← Some((x,y)) splitting a1 at a2 (negative a2 counts from the end) / None"),
    _op(0xb2, "BYTES_SIZE", "a a", "AOW", (10, 10), "8", "a0 ← byte length of a1"),
    _op(0xb3, "BYTES_TO_FIXED_SIZE", "a a a", "AOW", (10, 10), "8", "a0 ← Some(a1) if size(a1)==a2 else None"),
    _op(0xb4, "INT_TO_BYTES", "a a a", "AOW", (10, 10), "8", "a0 ← a1 as a2-byte big-endian (high bits dropped)"),
    _op(0xb5, "STR_TO_BYTES", "a a", "AOW", (10, 10), "8", "a0 ← bytes of string a1"),
    _op(0xb6, "NETWORK_ID", "a", "AOW", (10, 10), "8", "a0 ← network id string"),
    _op(0xf0, "DBG_LOC", "a a", "AO", (0, 0), "8", "debug marker (file a0, line a1)"),
    _op(0xf1, "DBG_DEF", "a a", "AO", (0, 0), "8", "debug: name a0 bound to register a1"),
    _op(0xf2, "DBG_UNDEF", "a a", "AO", (0, 0), "8", "debug: name a0 unbound"),
    _op(0xf3, "DBG_CONTRACT", "a", "AO", (0, 0), "8", "debug: contract name a0"),
    _op(0xfa, "DEACTIVATE", "", "AO", (10, 10), "5", "not implemented: aborts (Iris+)"),
    _op(0xfb, "ABORT", "a", "EAO", (10, 10), "5", "revert with string a0 (gas left is kept)"),
    _op(0xfc, "EXIT", "a", "EAO", (10, 10), "5", "fail with string a0 (all gas is consumed)"),
    _op(0xfd, "NOP", "", "AO", (1, 1), "5", "no operation"),
)
# fmt: on

#: Opcode byte -> op.
BY_CODE: Final[dict[int, OpInfo]] = {op.code: op for op in OPS}
#: Mnemonic -> op.
BY_NAME: Final[dict[str, OpInfo]] = {op.name: op for op in OPS}

#: First byte of a function header in the code (not an instruction).
FUNCTION: Final = 0xFE
#: Reserved prefix byte (never an instruction).
EXTEND: Final = 0xFF

#: Debug-build-only ops (a production node has no handler for them).
DEBUG_OPS: Final = frozenset({"DBG_LOC", "DBG_DEF", "DBG_UNDEF", "DBG_CONTRACT"})

__all__ = ["BY_CODE", "BY_NAME", "DEBUG_OPS", "EXTEND", "FUNCTION", "OPS", "ArgFormat", "OpInfo"]
