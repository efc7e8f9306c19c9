"""Merkle Patricia tree: canonical build, node references, proofs and their verification."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.codec import rlp
from chan_nb.codec.mpt import (
    MerklePatriciaTree,
    Proof,
    compact_path,
    node_hash,
    root_hash,
    split_compact_path,
)
from chan_nb.errors import DecodeError


def blake(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


# -- an independent reference: a port of aeu_mp_trees:put (insert one key at a time) ----------


class InsertTree:
    """Builds the tree the way the node does, by successive puts; nodes kept by reference."""

    def __init__(self) -> None:
        self.db: dict[bytes, bytes] = {}
        self.root = b""

    def _encode(self, items: list[bytes]) -> bytes:
        encoded = rlp.encode(list(items))
        if len(encoded) < 32:
            return encoded
        digest = blake(encoded)
        self.db[digest] = encoded
        return digest

    def _force_hash(self, ref: bytes) -> bytes:
        if len(ref) == 32:
            return ref
        digest = blake(ref)
        self.db[digest] = ref
        return digest

    def _node(self, ref: bytes) -> tuple[str, object, object] | None:
        if not ref:
            return None
        items = rlp.decode(ref if len(ref) < 32 else self.db[ref])
        assert isinstance(items, list)
        if len(items) == 17:
            return ("branch", items[:16], items[16])
        assert isinstance(items[0], bytes)
        is_leaf, path = split_compact_path(items[0])
        return ("leaf" if is_leaf else "ext", path, items[1])

    def _leaf(self, path: str, value: bytes) -> bytes:
        return self._encode([compact_path(path, True), value])

    def _ext(self, path: str, ref: bytes) -> bytes:
        return self._encode([compact_path(path, False), self._force_hash(ref)])

    def _maybe_ext(self, path: str, ref: bytes) -> bytes:
        return self._ext(path, ref) if path else ref

    def _branch(self, children: dict[str, bytes], value: bytes) -> bytes:
        return self._encode([children.get(f"{i:x}", b"") for i in range(16)] + [value])

    def _update_ext_path(self, child: bytes, path: str) -> bytes:
        if not path:
            encoded = self.db[child]
            return encoded if len(encoded) < 32 else child
        return self._encode([compact_path(path, False), child])

    def _put(self, key: str, value: bytes, ref: bytes) -> bytes:
        node = self._node(ref)
        if node is None:
            return self._leaf(key, value)
        kind, a, b = node
        if kind == "branch":
            assert isinstance(a, list) and isinstance(b, bytes)
            children = {f"{i:x}": c for i, c in enumerate(a) if c}
            if not key:
                return self._branch(children, value)
            children[key[0]] = self._put(key[1:], value, a[int(key[0], 16)])
            return self._branch(children, b)
        assert isinstance(a, str) and isinstance(b, bytes)
        common = 0
        while common < min(len(key), len(a)) and key[common] == a[common]:
            common += 1
        prefix, k1, k2 = key[:common], key[common:], a[common:]
        if kind == "leaf":
            if not k1 and not k2:
                return self._leaf(key, value)
            if not k1:
                branch = self._branch({k2[0]: self._leaf(k2[1:], b)}, value)
            elif not k2:
                branch = self._branch({k1[0]: self._leaf(k1[1:], value)}, b)
            else:
                branch = self._branch(
                    {k1[0]: self._leaf(k1[1:], value), k2[0]: self._leaf(k2[1:], b)}, b""
                )
            return self._maybe_ext(prefix, branch)
        if not k2:
            return self._ext(prefix, self._put(k1, value, b))
        moved = self._update_ext_path(b, k2[1:])
        if not k1:
            branch = self._branch({k2[0]: moved}, value)
        else:
            branch = self._branch({k1[0]: self._leaf(k1[1:], value), k2[0]: moved}, b"")
        return self._maybe_ext(prefix, branch)

    def put(self, key: bytes, value: bytes) -> None:
        self.root = self._force_hash(self._put(key.hex(), value, self.root))


# -- compact paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "leaf", "encoded"),
    [
        ("", False, "00"),
        ("", True, "20"),
        ("1", False, "11"),
        ("1", True, "31"),
        ("12", False, "0012"),
        ("12", True, "2012"),
        ("abc", True, "3abc"),
        ("abcd", False, "00abcd"),
    ],
)
def test_compact_path_hex_prefix(path: str, leaf: bool, encoded: str) -> None:
    assert compact_path(path, leaf).hex() == encoded
    assert split_compact_path(bytes.fromhex(encoded)) == (leaf, path)


@pytest.mark.parametrize("raw", ["", "40", "f1", "01", "2f12"])
def test_compact_path_rejects_bad_flags_and_padding(raw: str) -> None:
    with pytest.raises(DecodeError):
        split_compact_path(bytes.fromhex(raw))


# -- building -----------------------------------------------------------------------------------


def test_empty_tree_has_no_root() -> None:
    tree = MerklePatriciaTree({})
    assert tree.root_hash is None
    assert root_hash({}) is None
    assert tree.get(b"\x01") is None
    with pytest.raises(ValueError):
        tree.proof([b"\x01"])


def test_single_short_leaf_root_is_hash_of_its_rlp() -> None:
    # one key -> a leaf; its 5-byte RLP is still hashed for the root
    tree = MerklePatriciaTree({b"\xab": b"v"})
    leaf = bytes.fromhex("c4") + bytes.fromhex("8220ab") + b"v"
    assert tree.root_hash == blake(leaf)
    assert dict(tree.nodes()) == {blake(leaf): leaf}


def test_short_children_are_embedded_as_byte_strings() -> None:
    # keys 01, 02: extension "0" -> branch with two 3-byte leaves embedded as strings
    tree = MerklePatriciaTree({b"\x01": b"a", b"\x02": b"b"})
    leaf_a = bytes.fromhex("c22061")  # [compact("", leaf) = 20, "a"]
    leaf_b = bytes.fromhex("c22062")
    branch_items: list[rlp.Item] = [b"", leaf_a, leaf_b, *[b""] * 13, b""]
    branch = rlp.encode(branch_items)
    assert len(branch) < 32  # short, but an extension's child is always hashed
    ext = rlp.encode([bytes.fromhex("10"), blake(branch)])
    assert tree.root_hash == blake(ext)
    assert set(tree.nodes()) == {blake(branch), blake(ext)}
    assert tree.get(b"\x01") == b"a"
    assert tree.get(b"\x02") == b"b"
    assert tree.get(b"\x03") is None


def test_key_ending_at_a_branch_is_its_value() -> None:
    entries = {b"\x12": b"short-key" * 4, b"\x12\x34": b"long-key" * 4}
    tree = MerklePatriciaTree(entries)
    leaf = rlp.encode([bytes.fromhex("34"), entries[b"\x12\x34"]])
    slots: list[rlp.Item] = [b""] * 17
    slots[3] = blake(leaf)
    slots[16] = entries[b"\x12"]
    branch = rlp.encode(slots)
    ext = rlp.encode([bytes.fromhex("0012"), blake(branch)])
    assert tree.root_hash == blake(ext)
    for key, value in entries.items():
        assert tree.get(key) == value
    assert tree.get(b"\x12\x30") is None


def test_two_accounts_worked_example() -> None:
    # serialization.md §12.2: first nibbles 6 and 9 -> two 46-byte leaves under a branch
    key_a = bytes.fromhex("6" + "1" * 63)
    key_b = bytes.fromhex("9" + "2" * 63)
    account = bytes.fromhex("ca0a0100863faa25225fff")
    tree = MerklePatriciaTree({key_a: account, key_b: account})
    leaf_a = bytes.fromhex("eda0") + bytes.fromhex("3" + "1" * 63) + b"\x8b" + account
    leaf_b = bytes.fromhex("eda0") + bytes.fromhex("3" + "2" * 63) + b"\x8b" + account
    assert len(leaf_a) == 46
    slots: list[rlp.Item] = [b""] * 17
    slots[6], slots[9] = blake(leaf_a), blake(leaf_b)
    branch = rlp.encode(slots)
    assert branch[:3] == bytes.fromhex("f85180") and len(branch) == 83
    assert tree.root_hash == blake(branch)


@pytest.mark.parametrize(("key", "value"), [(b"", b"x"), (b"k", b""), ("k", b"x")])
def test_rejects_empty_or_non_bytes_entries(key: object, value: bytes) -> None:
    with pytest.raises(ValueError):
        MerklePatriciaTree({key: value})  # type: ignore[dict-item]


# -- against the insert-based reference ------------------------------------------------------------

nibble_heavy_keys = st.lists(
    st.sampled_from([0x00, 0x01, 0x10, 0x11, 0x1F, 0xF1, 0xFF]), min_size=1, max_size=5
).map(bytes)
values = st.binary(min_size=1, max_size=40)
entry_maps = st.dictionaries(nibble_heavy_keys, values, min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(entries=entry_maps, data=st.data())
def test_matches_node_insertion_in_any_order(
    entries: dict[bytes, bytes], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(sorted(entries)))
    reference = InsertTree()
    for key in order:
        reference.put(key, entries[key])
    tree = MerklePatriciaTree(entries)
    assert tree.root_hash == reference.root
    reachable = {d: r for d, r in reference.db.items() if d in tree.nodes()}
    assert dict(tree.nodes()) == reachable
    for key, value in entries.items():
        assert tree.get(key) == value


# -- proofs ------------------------------------------------------------------------------------


def _tree_and_subset(
    entries: dict[bytes, bytes], data: st.DataObject
) -> tuple[MerklePatriciaTree, list[bytes]]:
    keys = data.draw(st.lists(st.sampled_from(sorted(entries)), unique=True))
    return MerklePatriciaTree(entries), keys


@settings(max_examples=100, deadline=None)
@given(entries=entry_maps, data=st.data())
def test_proof_proves_exactly_its_keys(entries: dict[bytes, bytes], data: st.DataObject) -> None:
    tree, keys = _tree_and_subset(entries, data)
    proof = tree.proof(keys)
    assert tree.root_hash is not None and proof.root_hash == tree.root_hash
    assert set(proof.nodes) <= set(tree.nodes())
    proof.check()
    for key in keys:
        assert proof.lookup(key) == entries[key]
        assert proof.verify(key, entries[key])
        assert not proof.verify(key, entries[key] + b"!")
    assert set(keys) <= set(proof.entries())
    assert all(entries[k] == v for k, v in proof.entries().items())
    again = Proof.from_rlp(rlp.decode(rlp.encode(proof.to_rlp())))
    assert again == proof


@settings(max_examples=60, deadline=None)
@given(entries=entry_maps, absent=nibble_heavy_keys)
def test_proof_of_absence(entries: dict[bytes, bytes], absent: bytes) -> None:
    entries.pop(absent, None)
    if not entries:
        return
    tree = MerklePatriciaTree(entries)
    proof = tree.proof([absent])
    assert proof.lookup(absent) is None
    assert proof.verify(absent, None)


def test_lookup_outside_the_proof_raises() -> None:
    entries = {bytes([i]) * 32: bytes([i]) * 40 for i in (0x10, 0x20, 0x30)}
    tree = MerklePatriciaTree(entries)
    proof = tree.proof([b"\x10" * 32])
    assert proof.lookup(b"\x10" * 32) == b"\x10" * 40
    with pytest.raises(DecodeError, match="lacks node"):
        proof.lookup(b"\x20" * 32)
    assert not proof.verify(b"\x20" * 32, b"\x20" * 40)
    assert proof.entries() == {b"\x10" * 32: b"\x10" * 40}


def test_bare_root_proves_nothing() -> None:
    tree = MerklePatriciaTree({b"\x01" * 32: b"v" * 40})
    proof = tree.proof([])
    assert proof.nodes == {}
    proof.check()
    assert proof.entries() == {}
    with pytest.raises(DecodeError, match="lacks node"):
        proof.lookup(b"\x01" * 32)


def test_tampered_node_is_detected() -> None:
    entries = {bytes([i]) * 32: bytes([i]) * 40 for i in (0x10, 0x20)}
    tree = MerklePatriciaTree(entries)
    proof = tree.proof(list(entries))
    leaf_hash = next(d for d, items in proof.nodes.items() if len(items) == 2)
    leaf = proof.nodes[leaf_hash]
    forged = dict(proof.nodes)
    forged[leaf_hash] = (leaf[0], b"\x99" * 40)
    bad = Proof(proof.root_hash, forged)
    with pytest.raises(DecodeError, match="does not hash"):
        bad.check()
    key = b"\x10" * 32 if leaf[0][1:] == b"\x10" * 31 else b"\x20" * 32
    with pytest.raises(DecodeError, match="does not hash"):
        bad.lookup(key)
    assert not bad.verify(key, b"\x99" * 40)


def test_node_hash_is_blake2b_of_rlp() -> None:
    items = (bytes.fromhex("3a"), b"value")
    assert node_hash(items) == blake(rlp.encode(list(items)))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (b"\x00" * 32, "expected a list"),
        ([b"\x00" * 32], "proof needs"),
        ([b"\x00" * 31, []], "root hash must be 32"),
        ([b"\x00" * 32, [[b"\x01" * 32]]], "node entry needs"),
        ([b"\x00" * 32, [[b"\x01" * 31, [b"\x3a", b"v"]]]], "node hash must be 32"),
        ([b"\x00" * 32, [[b"\x01" * 32, [b"\x3a"]]]], "2 or 17 items"),
        ([b"\x00" * 32, [[b"\x01" * 32, [b"\x5a", b"v"]]]], "flag nibble"),
        ([b"\x00" * 32, [[b"\x01" * 32, [b"\x3a", [b"v"]]]]], "expected a byte string"),
        (
            [b"\x00" * 32, [[b"\x02" * 32, [b"\x3a", b"v"]], [b"\x01" * 32, [b"\x3b", b"w"]]]],
            "ascending",
        ),
        (
            [b"\x00" * 32, [[b"\x01" * 32, [b"\x3a", b"v"]], [b"\x01" * 32, [b"\x3a", b"v"]]]],
            "ascending",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_proof_decoding_rejects_malformed_parts(item: rlp.Item, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        Proof.from_rlp(item)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.dictionaries(st.binary(min_size=32, max_size=32), values, min_size=1, max_size=6),
    data=st.data(),
)
def test_mutated_proof_bytes_fail_cleanly(entries: dict[bytes, bytes], data: st.DataObject) -> None:
    tree = MerklePatriciaTree(entries)
    keys = sorted(entries)
    encoded = bytearray(rlp.encode(tree.proof(keys).to_rlp()))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    try:
        proof = Proof.from_rlp(rlp.decode(bytes(encoded)))
    except DecodeError:
        return
    for key in keys:
        try:
            found = proof.lookup(key)
        except DecodeError:
            continue
        # a walk that completes is anchored in the (unforgeable) root hash
        assert found == entries[key]
