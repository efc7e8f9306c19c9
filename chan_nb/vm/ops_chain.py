"""The chain API a channel's contract sees, events, hashes and signatures (fate.md §4.8, §5).

Reads of the contract's own state and of off-chain accounts go to the :class:`World`;
names, oracles and the ``Chain.balance`` fallback to the pinned block's on-chain state
(:class:`~chain_nb.vm.chain.OnChain`); block data to the pinned :class:`ChainEnv`.
"""

from __future__ import annotations

from chan_nb.codec import contracts as ct
from chan_nb.codec.fate import types as ft
from chan_nb.codec.fate.bytecode import Operand
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    Value,
    encode,
    none,
    some,
    string_value,
)
from chan_nb.vm import crypto, erlang, gas, typecheck
from chan_nb.vm.calls import load_code
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.machine import NEXT, Machine
from chan_nb.vm.ops_data import Handler, is_int


def _account(pubkey: bytes) -> Address:
    return Address(ObjectKind.ADDRESS, pubkey)


def _put(getter: object) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        m.write(a[0], getter(m))  # type: ignore[operator]
        return NEXT

    return handler


def _creator(m: Machine) -> Address:
    return _account(m.world.contracts[m.contract].owner.value)


def _balance(m: Machine) -> int:
    return m.world.balance(m.contract) or 0


def _balance_other(m: Machine, a: tuple[Operand, ...]) -> int:
    who = m.read(a[1])
    if not (isinstance(who, Address) and who.kind is ObjectKind.ADDRESS):
        raise m.type_error(who, "address")
    balance = m.world.balance(who.pubkey)
    if balance is None:
        balance = m.onchain.account_balance(who.pubkey)
    m.write(a[0], 0 if balance is None else balance)
    return NEXT


def _blockhash(m: Machine, a: tuple[Operand, ...]) -> int:
    n = m.read(a[1])
    if not is_int(n):
        raise m.type_error(n, "integer")
    current = m.env.height
    top = current if (m.profile.strict_types and m.vm_version >= 7) else current - 1
    if n < 0 or n > top or n <= current - 256:
        m.write(a[0], none())
        return NEXT
    found = m.env.key_block_hashes.get(n)
    if found is None:
        raise VmNotImplemented(f"the pinned environment has no key-block hash for height {n}")
    m.write(a[0], some(Bytes(found)))
    return NEXT


def _not_in_node(m: Machine, a: tuple[Operand, ...]) -> int:
    """MICROBLOCK and DEACTIVATE: unimplemented in the node (both name microblock from Iris)."""
    if m.profile.strict_types:
        raise m.error("Operation ~p is not implemented", ("p", erlang.Atom("microblock")))
    raise VmNotImplemented("MICROBLOCK / DEACTIVATE crash the old node (op_not_implemented_yet)")


# -- events ------------------------------------------------------------------------------

_MAX_WORD = (1 << 256) - 1


def _topic(m: Machine, value: Value) -> int:
    if isinstance(value, bool):
        return int(value)
    if is_int(value):
        if 0 <= value <= _MAX_WORD:
            return int(value)
        raise m.error("Illegal integer in log: ~w", ("w", value))
    if isinstance(value, Bits):
        if 0 <= value.value <= _MAX_WORD:
            return value.value
        raise m.error("Illegal bits in log")
    if isinstance(value, Address) and value.kind is not ObjectKind.CHANNEL:
        return int.from_bytes(value.pubkey, "big")
    if isinstance(value, Bytes) and len(value.value) <= 32:
        return int.from_bytes(value.value, "big")
    raise m.type_error(value, "word")


def _log(m: Machine, a: tuple[Operand, ...]) -> int:
    values = [m.read(x) for x in a]
    payload, topics = values[0], values[1:]
    if isinstance(payload, str | bytes):
        data = erlang.raw_string(payload)
    elif isinstance(payload, Bytes):
        data = payload.value
    else:
        raise VmNotImplemented("an event payload that is not a string (a crash) is not modelled")
    words = tuple(_topic(m, t) for t in topics)
    m.logs.insert(0, ct.LogEntry(m.contract, words, data))
    m.spend(gas.log_gas(len(topics), data))
    return NEXT


# -- coins ------------------------------------------------------------------------------


def _spend(m: Machine, a: tuple[Operand, ...]) -> int:
    to = m.read(a[0])
    if not (isinstance(to, Address) and to.kind is ObjectKind.ADDRESS):
        raise m.type_error(to, "address")
    amount = m.read(a[1])
    if not is_int(amount):
        raise m.type_error(amount, "integer")
    if amount < 0:
        raise VmNotImplemented("SPEND of a negative amount (a crash in the node) is not modelled")
    acc = m.world.accounts.get(to.pubkey)
    if acc is not None and acc.flags:
        raise VmNotImplemented("spending to an account with flags (payable?) is not modelled")
    if not m.world.move(m.contract, to.pubkey, amount):
        raise m.error(
            "Error in ~w: ~w", ("w", erlang.Atom("spend")), ("w", erlang.Atom("insufficient_funds"))
        )
    return NEXT


# -- names and oracles (on chain) --------------------------------------------------------

_POINTEE = {
    "account": ObjectKind.ADDRESS,
    "oracle": ObjectKind.ORACLE,
    "contract": ObjectKind.CONTRACT,
}


def _aens_resolve(m: Machine, a: tuple[Operand, ...]) -> int:
    name, key, rtype = (m.read(x) for x in a[1:4])
    if not isinstance(name, str | bytes):
        raise m.type_error(name, "string")
    if not isinstance(key, str | bytes):
        raise m.type_error(key, "string")
    if not isinstance(rtype, ft.FateType):
        raise m.type_error(rtype, "typerep")
    found = m.onchain.resolve_name(erlang.raw_string(name), erlang.raw_string(key))
    if found is None:
        m.write(a[0], none())
        return NEXT
    kind, pubkey = found
    shape = typecheck.declared(rtype)
    if not (
        shape[0] == "variant"
        and len(shape[1]) == 2
        and shape[1][0] == ("tuple", ())
        and shape[1][1][0] == "tuple"
        and len(shape[1][1][1]) == 1
    ):
        raise m.error(
            "Error in ~w: ~w", ("w", erlang.Atom("aens_resolve")), ("w", erlang.Atom("bad_type"))
        )
    inner_t = shape[1][1][1][0]
    inner: Value
    if inner_t == ("string",):
        inner = string_value(pubkey)
    elif kind in _POINTEE:
        inner = Address(_POINTEE[kind], pubkey)
    else:
        m.write(a[0], none())
        return NEXT
    value = some(inner)
    m.write(a[0], value if typecheck.check(shape, value) is not None else none())
    return NEXT


def _address_is(what: str) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        who = m.read(a[1])
        if not (isinstance(who, Address) and who.kind is ObjectKind.ADDRESS):
            raise m.type_error(who, "address")
        ask = {
            "oracle": m.onchain.is_oracle,
            "contract": m.onchain.is_contract,
            "payable": m.onchain.is_payable,
        }[what]
        m.write(a[0], bool(ask(who.pubkey)))
        return NEXT

    return handler


# -- conversions, hashes, signatures -------------------------------------------------------


def _retype(name: str, source: ObjectKind, target: ObjectKind) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        value = m.read(a[1])
        if not (isinstance(value, Address) and value.kind is source):
            raise m.bad_args(name, value)
        m.write(a[0], Address(target, value.pubkey))
        return NEXT

    return handler


def _hash(fn: object) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        value = m.read(a[1])
        m.traverse(value, "simple")  # unfold_serial only when store maps unfold
        if isinstance(value, str | bytes):
            data = erlang.raw_string(value)
        elif isinstance(value, Bytes):
            data = value.value
        else:
            data = encode(value)
        m.write(a[0], Bytes(fn(data)))  # type: ignore[operator]
        return NEXT

    return handler


def _verify_sig(m: Machine, a: tuple[Operand, ...]) -> int:
    msg, pk, sig = (m.read(x) for x in a[1:4])
    any_size = m.vm_version >= 8
    ok = (
        isinstance(msg, Bytes)
        and (any_size or len(msg.value) == 32)
        and isinstance(pk, Address)
        and pk.kind is ObjectKind.ADDRESS
        and isinstance(sig, Bytes)
        and len(sig.value) == 64
    )
    if not ok:
        raise m.bad_args("verify_sig", msg, pk, sig)
    assert isinstance(msg, Bytes) and isinstance(pk, Address) and isinstance(sig, Bytes)
    m.write(a[0], crypto.ed25519_verify(msg.value, pk.pubkey, sig.value))
    return NEXT


def _bytecode_hash(m: Machine, a: tuple[Operand, ...]) -> int:
    """Some(BLAKE2b of the serialized FATE code) of an off-chain contract, else None."""
    target = m.read(a[1])
    if not (isinstance(target, Address) and target.kind is ObjectKind.CONTRACT):
        raise VmNotImplemented("BYTECODE_HASH of a non-contract (a crash in the node)")
    loaded = load_code(m, target.pubkey)
    if loaded is None:
        m.write(a[0], none())
        return NEXT
    code, vm_version = loaded
    if vm_version < 7:
        raise VmNotImplemented("BYTECODE_HASH of vm 5 code (a crash in the node)")
    serialized = code.serialize()
    m.spend(len(serialized))
    m.write(a[0], some(Bytes(crypto.blake2b(serialized))))
    return NEXT


def _auth_tx_hash(m: Machine, a: tuple[Operand, ...]) -> int:
    m.spend_cells(3)  # None (no GA authentication inside a channel)
    m.write(a[0], none())
    return NEXT


def _int_to_addr(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    if not is_int(value):
        raise m.bad_args("int_to_addr", value)
    raise m.error("Error: operation ~p is disabled", ("p", erlang.Atom("INT_TO_ADDR")))


HANDLERS: dict[str, Handler] = {
    "ADDRESS": _put(lambda m: m.address),
    "BALANCE": _put(_balance),
    "BALANCE_OTHER": _balance_other,
    "ORIGIN": _put(lambda m: _account(m.origin)),
    "CALLER": _put(lambda m: m.caller),
    "GASPRICE": _put(lambda m: m.gas_price),
    "BLOCKHASH": _blockhash,
    "BENEFICIARY": _put(lambda m: _account(m.env.beneficiary)),
    "TIMESTAMP": _put(lambda m: m.env.timestamp),
    "GENERATION": _put(lambda m: m.env.height),
    "MICROBLOCK": _not_in_node,
    "DEACTIVATE": _not_in_node,
    "DIFFICULTY": _put(lambda m: m.env.difficulty),
    "GASLIMIT": _put(lambda m: m.env.gas_limit),
    "GAS": _put(lambda m: m.gas),
    "CREATOR": _put(_creator),
    "FEE": _put(lambda m: 0),
    "LOG0": _log,
    "LOG1": _log,
    "LOG2": _log,
    "LOG3": _log,
    "LOG4": _log,
    "SPEND": _spend,
    "AENS_RESOLVE": _aens_resolve,
    "IS_ORACLE": _address_is("oracle"),
    "IS_CONTRACT": _address_is("contract"),
    "IS_PAYABLE": _address_is("payable"),
    "CONTRACT_TO_ADDRESS": _retype("contract_to_address", ObjectKind.CONTRACT, ObjectKind.ADDRESS),
    "ADDRESS_TO_CONTRACT": _retype("address_to_contract", ObjectKind.ADDRESS, ObjectKind.CONTRACT),
    "SHA3": _hash(crypto.keccak256),
    "SHA256": _hash(crypto.sha256),
    "BLAKE2B": _hash(crypto.blake2b),
    "VERIFY_SIG": _verify_sig,
    "AUTH_TX_HASH": _auth_tx_hash,
    "BYTECODE_HASH": _bytecode_hash,
    "INT_TO_ADDR": _int_to_addr,
}

__all__ = ["HANDLERS"]
