"""Transactions, updates, hashing and signing against the verified vectors."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.codec import encoding, hashing, signing, txs, updates
from chan_nb.codec.ids import Id, IdKind
from chan_nb.codec.keys import Keypair
from chan_nb.codec.objects import TaggedObject
from chan_nb.errors import DecodeError, SignatureError


def test_every_transaction_vector(vectors: dict[str, Any]) -> None:
    assert len(vectors["transactions"]) >= 20
    for vec in vectors["transactions"]:
        tx = txs.decode_api(vec["tx"])
        assert isinstance(tx, txs.SignedTx)
        assert tx.to_api() == vec["tx"]  # bit-exact re-encoding
        assert tx.to_dict(expand=True) == vec["decoded"]
        assert tx.hash == vec["tx_hash"]
        assert vec["type"] == tx.innermost.TYPE
        assert vec["tag"] == tx.innermost.TAG and tx.innermost.version == vec["vsn"]
        layers = list(txs.signature_layers(tx))
        assert len(layers) == len(vec["signature_layers"])
        for layer, want in zip(layers, vec["signature_layers"], strict=True):
            assert encoding.encode("tx", layer.tx_bytes) == want["inner_tx"]
            assert want["inner_type"] == layer.inner.TYPE
            signers = {encoding.decode(a, "ak") for a in want["verified_signers"]}
            found = set()
            for sig in layer.signatures:
                hit = signing.find_signer(sig, signers, layer.tx_bytes, vec["network_id"])
                assert hit is not None and hit[1] == "raw"
                found.add(hit[0])
            assert found == signers


def test_signing_example(vectors: dict[str, Any]) -> None:
    ex = vectors["signing"]["example"]
    tx = txs.decode_api(ex["tx"])
    assert isinstance(tx, txs.SignedTx)
    assert tx.serialize().hex() == ex["signed_tx_hex"]
    assert tx.tx_bytes.hex() == ex["inner_tx_hex"]
    assert signing.message(tx.tx_bytes, ex["network_id"], "raw").hex() == ex["preimage_hex"]
    assert hashing.blake2b_256(tx.tx_bytes).hex() == ex["blake2b_256_of_inner_tx_hex"]
    assert tx.hash == ex["tx_hash"]
    for sig in ex["signatures"]:
        sig_bytes = bytes.fromhex(sig["signature_hex"])
        pub = bytes.fromhex(sig["pubkey_hex"])
        assert signing.verify(sig_bytes, pub, tx.tx_bytes, ex["network_id"]) == "raw"
        assert signing.verify(sig_bytes, pub, tx.tx_bytes, "ae_mainnet") is None
        assert signing.detect_network_id(sig_bytes, [pub], tx.tx_bytes) == ex["network_id"]


def test_channel_id_vectors(vectors: dict[str, Any]) -> None:
    for vec in vectors["channel_ids"]:
        if "nonce" not in vec:
            continue
        init = encoding.decode(vec["initiator_id"], "ak")
        resp = encoding.decode(vec["responder_id"], "ak")
        assert (init + vec["nonce"].to_bytes(32, "big") + resp).hex() == vec["preimage_hex"]
        assert hashing.channel_id(init, vec["nonce"], resp) == vec["channel_id"]


def test_create_tx_derives_the_recorded_channel_id(vectors: dict[str, Any]) -> None:
    checked = 0
    for vec in vectors["transactions"]:
        tx = txs.decode_api(vec["tx"])
        assert isinstance(tx, txs.SignedTx)
        create = tx.innermost
        if isinstance(create, txs.ChannelCreateTx) and create.nonce and vec.get("channel_id"):
            assert encoding.encode("ch", create.channel_pubkey()) == vec["channel_id"]
            checked += 1
    assert checked >= 1


# -- sign / verify with fresh keys ---------------------------------------------


def _offchain(round_: int = 2) -> txs.ChannelOffchainTx:
    return txs.ChannelOffchainTx(Id.channel(bytes(range(32))), round_, bytes(32))


@pytest.mark.parametrize("preimage", ["raw", "hashed"])
def test_sign_and_verify_both_preimages(preimage: signing.Preimage) -> None:
    alice, bob = Keypair.generate(), Keypair.generate()
    signed = txs.SignedTx.wrap(_offchain())
    for key in (alice, bob):
        signed = signed.with_signature(
            signing.sign(signed.tx_bytes, key, "ae_uat", preimage=preimage)
        )
    assert list(signed.signatures) == sorted(signed.signatures)
    for key in (alice, bob):
        hits = [
            signing.verify(s, key.public_key, signed.tx_bytes, "ae_uat") for s in signed.signatures
        ]
        assert preimage in hits
    # wrong network id or wrong tx: no signature verifies
    for sig in signed.signatures:
        assert (
            signing.find_signer(
                sig, [alice.public_key, bob.public_key], signed.tx_bytes, "ae_mainnet"
            )
            is None
        )
        other = _offchain(3).serialize()
        assert signing.find_signer(sig, [alice.public_key, bob.public_key], other, "ae_uat") is None
    again = txs.decode_api(signed.to_api())
    assert again == signed


def test_keypair_loading_and_secrecy() -> None:
    key = Keypair.generate()
    seed = key.secret_seed()
    assert Keypair.from_hex(seed.hex()).address == key.address
    assert Keypair.from_seed(seed + key.public_key).address == key.address
    assert key.address.startswith("ak_") and encoding.decode(key.address, "ak") == key.public_key
    assert seed.hex() not in repr(key) and seed.hex() not in str(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(SignatureError, match="32 or 64 bytes"):
        Keypair.from_seed(b"short")
    with pytest.raises(SignatureError, match="hex"):
        Keypair.from_hex("zz")
    with pytest.raises(SignatureError, match="does not match"):
        Keypair.from_seed(seed + bytes(32))


# -- updates -----------------------------------------------------------------


def test_update_json_round_trip_and_errors() -> None:
    a = Id.account(bytes([1]) * 32)
    b = Id.account(bytes([2]) * 32)
    for up in [
        updates.OffChainTransfer(a, b, 10**30),
        updates.OffChainDeposit(a, 5),
        updates.OffChainWithdrawal(b, 7),
        updates.OffChainMeta(b"meta 1"),
        updates.OffChainNewContract(a, updates.pack_ct_version(6, 1), b"code", 10, b"call"),
        updates.OffChainCallContract(a, Id.contract(bytes(32)), 1, 0, 10**6, 1, b"cd", ()),
    ]:
        as_json = up.to_dict()
        assert as_json["op"] == up.OP
        assert updates.from_dict(as_json) == up
        assert updates.decode(up.serialize()) == up
    assert updates.OffChainNewContract(a, 393217, b"", 0, b"").to_dict()["vm_version"] == 6
    with pytest.raises(DecodeError, match="unknown update op"):
        updates.from_dict({"op": "OffChainSteal"})
    with pytest.raises(DecodeError, match="missing field 'amount'"):
        updates.from_dict({"op": "OffChainTransfer", "from": a.api, "to": b.api})
    with pytest.raises(DecodeError, match="non-negative integer"):
        updates.from_dict({"op": "OffChainTransfer", "from": a.api, "to": b.api, "amount": "1"})
    with pytest.raises(DecodeError, match="unexpected fields"):
        updates.from_dict({"op": "OffChainMeta", "data": "x", "extra": 1})


# -- property tests over every transaction type --------------------------------

ids_ = st.builds(Id, st.sampled_from(list(IdKind)), st.binary(min_size=32, max_size=32))
accounts = st.builds(Id.account, st.binary(min_size=32, max_size=32))
ints = st.integers(min_value=0, max_value=2**80)
hashes = st.binary(min_size=32, max_size=32)


def _strategy_for(cls: type[TaggedObject], version: int) -> st.SearchStrategy[Any]:
    from chan_nb.codec.fields import Kind

    by_kind: dict[Kind, st.SearchStrategy[Any]] = {
        Kind.INT: ints,
        Kind.BOOL: st.booleans(),
        Kind.ID: ids_,
        Kind.IDS: st.lists(ids_, max_size=3).map(tuple),
        Kind.HASH: hashes,
        Kind.BYTES: st.binary(max_size=80),
        Kind.TX: st.binary(max_size=80),
        Kind.UPDATE: st.binary(max_size=40),
        Kind.UPDATES: st.lists(st.binary(max_size=40), max_size=3).map(tuple),
        Kind.INTS: st.lists(ints, max_size=3).map(tuple),
        Kind.SIGS: st.lists(st.binary(min_size=64, max_size=64), max_size=3).map(tuple),
        Kind.TEXT: st.text(max_size=20).map(lambda s: s.encode()),
    }
    kwargs = {fd.attr: by_kind[fd.kind] for fd in cls.FIELDS[version]}
    return st.builds(cls, version=st.just(version), **kwargs)


ALL_TYPES = [
    (cls, version)
    for cls in [
        txs.SignedTx,
        txs.ChannelCreateTx,
        txs.ChannelDepositTx,
        txs.ChannelWithdrawTx,
        txs.ChannelCloseMutualTx,
        txs.ChannelCloseSoloTx,
        txs.ChannelSlashTx,
        txs.ChannelSettleTx,
        txs.ChannelSnapshotSoloTx,
        txs.ChannelForceProgressTx,
        txs.ChannelSetDelegatesTx,
        txs.ChannelOffchainTx,
        txs.SpendTx,
        txs.GaMetaTx,
        updates.OffChainTransfer,
        updates.OffChainDeposit,
        updates.OffChainWithdrawal,
        updates.OffChainNewContract,
        updates.OffChainCallContract,
        updates.OffChainMeta,
    ]
    for version in cls.FIELDS
]


@pytest.mark.parametrize(("cls", "version"), ALL_TYPES, ids=lambda x: getattr(x, "TYPE", str(x)))
@settings(max_examples=40)
@given(data=st.data())
def test_every_type_round_trips(cls: type[TaggedObject], version: int, data: st.DataObject) -> None:
    obj = data.draw(_strategy_for(cls, version))
    raw = obj.serialize()
    from chan_nb.codec.objects import decode

    again = decode(raw)
    assert type(again) is cls
    assert again.serialize() == raw
    assert again == obj
    assert dataclasses.asdict(again) == dataclasses.asdict(obj)  # type: ignore[call-overload]


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        tx = txs.decode(data)
    except DecodeError:
        return
    assert tx.serialize() == data


def _mutate(raw: bytes, pos: int, value: int) -> bytes:
    out = bytearray(raw)
    out[pos % len(out)] = value
    return bytes(out)


@settings(max_examples=300)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.integers(0, 25))
def test_mutated_recorded_txs_only_raise_decode_error(
    vectors: dict[str, Any], pos: int, value: int, which: int
) -> None:
    vecs = vectors["transactions"]
    raw = encoding.decode(vecs[which % len(vecs)]["tx"], "tx")
    mutated = _mutate(raw, pos, value)
    try:
        tx = txs.decode(mutated)
        if isinstance(tx, txs.SignedTx):
            list(txs.signature_layers(tx))
            tx.to_dict(expand=True)
    except DecodeError:
        return
    assert tx.serialize() == mutated


def test_wrong_type_in_signed_position_names_where() -> None:
    inner = updates.OffChainMeta(b"x").serialize()
    signed = txs.SignedTx((), inner)
    with pytest.raises(DecodeError, match=r"signed_tx\.transaction"):
        _ = signed.tx
    with pytest.raises(DecodeError, match="unsupported channel_offchain_tx version 9"):
        txs.decode(txs.rlp.encode([b"\x39", b"\x09", b"", b"", b""]))
    with pytest.raises(DecodeError, match="has 3 fields, got 2"):
        txs.decode(txs.rlp.encode([b"\x39", b"\x02", b"", b""]))


def test_verify_is_right_whichever_rule_a_key_used_last() -> None:
    key = Keypair.generate()
    for rnd, preimage in enumerate(["hashed", "hashed", "raw", "hashed", "raw", "raw"], start=2):
        tx_bytes = _offchain(rnd).serialize()
        sig = signing.sign(tx_bytes, key, "ae_uat", preimage)  # type: ignore[arg-type]
        assert signing.verify(sig, key.public_key, tx_bytes, "ae_uat") == preimage
        assert signing.verify(sig, key.public_key, tx_bytes, "ae_mainnet") is None
