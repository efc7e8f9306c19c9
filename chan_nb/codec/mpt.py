"""The node's Merkle Patricia tree (``aeu_mp_trees``): root hashes and proofs.

State hashes, ``ss_`` trees and ``pi_`` proofs all rest on this tree
(serialization.md §12.2). It is a canonical hex-nibble Patricia trie, so it is
built here straight from the sorted key set instead of by replaying inserts:
one key is a leaf, a prefix shared by every key is an extension, anything else
is a branch on the next nibble (a key ending exactly there is the branch value).

Node references follow the node, not Ethereum: a child whose RLP is 32 bytes or
longer is referenced by ``blake2b_256(rlp)``; a shorter one is embedded as its
RLP *byte string*; an extension always points at a hash; the root hash is
always ``blake2b_256(root_rlp)``. An empty tree has no root (``None``).

Paths are handled as lowercase hex strings (one character per nibble): they
slice, compare and sort exactly like nibble sequences and are fast in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chan_nb.codec import rlp
from chan_nb.codec.hashing import blake2b_256
from chan_nb.errors import DecodeError

HASH_SIZE = 32
BRANCH_WIDTH = 17  # 16 children and the value of a key ending at the branch

#: A decoded node: leaf/extension ``(compact_path, value_or_child)`` or the 17 branch items.
NodeItems = tuple[bytes, ...]


# -- compact (hex-prefix) paths ---------------------------------------------------------------


def compact_path(path: str, leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path: flag nibble 0/1 ext, 2/3 leaf; odd lengths use 1/3."""
    flag = 2 if leaf else 0
    if len(path) % 2:
        return bytes.fromhex(f"{flag + 1:x}{path}")
    return bytes.fromhex(f"{flag:x}0{path}")


def split_compact_path(raw: bytes, where: str = "node.path") -> tuple[bool, str]:
    """(is_leaf, nibble path) of a compact path; the node rejects any other flag or padding."""
    if not raw:
        raise DecodeError("empty compact path", where)
    text = raw.hex()
    flag = text[0]
    if flag in "02":
        if text[1] != "0":
            raise DecodeError(f"even compact path must pad with nibble 0, got {text[1]}", where)
        return flag == "2", text[2:]
    if flag in "13":
        return flag == "3", text[1:]
    raise DecodeError(f"compact path flag nibble must be 0-3, got {flag}", where)


# -- node shape ---------------------------------------------------------------------------------


def node_items(item: rlp.Item, where: str = "node") -> NodeItems:
    """Check a decoded node is a leaf/extension (2 byte strings) or a branch (17)."""
    items = rlp.expect_list(item, where)
    if len(items) not in (2, BRANCH_WIDTH):
        raise DecodeError(f"node must have 2 or {BRANCH_WIDTH} items, got {len(items)}", where)
    out: list[bytes] = []
    for i, sub in enumerate(items):
        out.append(rlp.expect_bytes(sub, f"{where}[{i}]"))
    if len(out) == 2:
        split_compact_path(out[0], f"{where}[0]")
    return tuple(out)


def node_hash(items: NodeItems) -> bytes:
    """blake2b of the node's RLP: its key in a proof and its reference from a parent."""
    return blake2b_256(rlp.encode(list(items)))


def _inline_node(ref: bytes, where: str) -> NodeItems:
    """A child embedded in its parent as the RLP bytes of a short node."""
    try:
        return node_items(rlp.decode(ref), where)
    except DecodeError as exc:
        raise exc.at(f"{where}(embedded)") from None


Resolver = Callable[[bytes], NodeItems]


def _walk(root: bytes, key: bytes, resolve: Resolver) -> bytes | None:
    """Value stored at ``key`` (None if provably absent), fetching hashed nodes via ``resolve``."""
    path = key.hex()
    node = resolve(root)
    pos = 0
    while True:
        if len(node) == BRANCH_WIDTH:
            if pos == len(path):
                return node[16] or None
            ref = node[int(path[pos], 16)]
            pos += 1
            if not ref:
                return None
        else:
            is_leaf, node_path = split_compact_path(node[0])
            if is_leaf:
                return (node[1] or None) if path[pos:] == node_path else None
            if not path.startswith(node_path, pos):
                return None
            pos += len(node_path)
            ref = node[1]
            if not ref:
                raise DecodeError("extension node has an empty child reference", f"key {key.hex()}")
        node = _follow(ref, resolve, key)


def _follow(ref: bytes, resolve: Resolver, key: bytes) -> NodeItems:
    if len(ref) == HASH_SIZE:
        return resolve(ref)
    if len(ref) > HASH_SIZE:
        raise DecodeError(
            f"child reference of {len(ref)} bytes is neither a hash nor a short node",
            f"key {key.hex()}",
        )
    return _inline_node(ref, f"key {key.hex()}")


# -- the tree -------------------------------------------------------------------------------------


class MerklePatriciaTree:
    """An immutable tree built from key → value bytes, with its hashed nodes kept for proofs."""

    __slots__ = ("_entries", "_nodes", "_root")

    def __init__(self, entries: Mapping[bytes, bytes]) -> None:
        for key, value in entries.items():
            if not isinstance(key, bytes) or not key:
                raise ValueError(f"tree keys must be non-empty bytes, got {key!r}")
            if not isinstance(value, bytes) or not value:
                raise ValueError(f"tree values must be non-empty bytes (key {key.hex()})")
        self._entries: Mapping[bytes, bytes] = MappingProxyType(dict(entries))
        self._nodes: dict[bytes, bytes] = {}
        self._root: bytes | None = None
        if entries:
            items = sorted((key.hex(), value) for key, value in entries.items())
            self._root = self._force_hash(self._build(items, 0))

    # Building mirrors aeu_mp_trees: encode_node embeds < 32 bytes, hashes the rest.
    def _store(self, items: list[bytes]) -> bytes:
        encoded = rlp.encode(list(items))
        if len(encoded) < HASH_SIZE:
            return encoded
        digest = blake2b_256(encoded)
        self._nodes[digest] = encoded
        return digest

    def _force_hash(self, ref: bytes) -> bytes:
        if len(ref) == HASH_SIZE:
            return ref
        digest = blake2b_256(ref)
        self._nodes[digest] = ref
        return digest

    def _build(self, items: list[tuple[str, bytes]], depth: int) -> bytes:
        if len(items) == 1:
            path, value = items[0]
            return self._store([compact_path(path[depth:], True), value])
        first, last = items[0][0], items[-1][0]
        common = 0
        limit = min(len(first), len(last)) - depth
        while common < limit and first[depth + common] == last[depth + common]:
            common += 1
        if common:
            child = self._force_hash(self._build(items, depth + common))
            return self._store([compact_path(first[depth : depth + common], False), child])
        slots: list[bytes] = [b""] * BRANCH_WIDTH
        start = 0
        if len(first) == depth:  # sorted: only the first key can end here
            slots[16] = items[0][1]
            start = 1
        while start < len(items):
            nibble = items[start][0][depth]
            end = start + 1
            while end < len(items) and items[end][0][depth] == nibble:
                end += 1
            slots[int(nibble, 16)] = self._build(items[start:end], depth + 1)
            start = end
        return self._store(slots)

    # -- queries ------------------------------------------------------------------------------
    @property
    def root_hash(self) -> bytes | None:
        """32-byte root hash, or None for the empty tree."""
        return self._root

    @property
    def entries(self) -> Mapping[bytes, bytes]:
        """The key → value mapping the tree was built from (read-only)."""
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def nodes(self) -> Mapping[bytes, bytes]:
        """Every hashed node: hash → node RLP (what a proof is cut from)."""
        return MappingProxyType(self._nodes)

    def _resolve(self, digest: bytes) -> NodeItems:
        encoded = self._nodes.get(digest)
        if encoded is None:
            raise DecodeError(f"tree has no node {digest.hex()}")
        return node_items(rlp.decode(encoded))

    def get(self, key: bytes) -> bytes | None:
        """Value at ``key`` found by walking the nodes (None when absent)."""
        if self._root is None:
            return None
        return _walk(self._root, key, self._resolve)

    def proof(self, keys: Iterable[bytes]) -> Proof:
        """The hashed nodes on the paths to ``keys`` (absent keys get a proof of absence)."""
        if self._root is None:
            raise ValueError("an empty tree has no root and no proof")
        picked: dict[bytes, NodeItems] = {}

        def resolve(digest: bytes) -> NodeItems:
            node = self._resolve(digest)
            picked[digest] = node
            return node

        for key in keys:
            _walk(self._root, key, resolve)
        return Proof(self._root, picked)


def root_hash(entries: Mapping[bytes, bytes]) -> bytes | None:
    """Root hash of the tree holding ``entries`` (None when empty)."""
    return MerklePatriciaTree(entries).root_hash


# -- proofs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """A root hash and the hashed nodes needed to walk to some keys (one part of a ``pi_``).

    Walking checks every node against its hash: a node that is missing or does not
    hash to its reference raises DecodeError; a key that the proof shows to be
    absent yields None.
    """

    root_hash: bytes
    nodes: Mapping[bytes, NodeItems]

    def __post_init__(self) -> None:
        if len(self.root_hash) != HASH_SIZE:
            raise DecodeError(f"root hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}")
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))

    def _resolve(self, digest: bytes) -> NodeItems:
        node = self.nodes.get(digest)
        if node is None:
            raise DecodeError(f"proof lacks node {digest.hex()} (key not covered)")
        if node_hash(node) != digest:
            raise DecodeError(f"node {digest.hex()} does not hash to its reference")
        return node

    def lookup(self, key: bytes) -> bytes | None:
        """Verified value at ``key``; None when the proof shows the key is absent."""
        return _walk(self.root_hash, key, self._resolve)

    def verify(self, key: bytes, value: bytes | None) -> bool:
        """True iff the proof shows ``key`` holding ``value`` (None: absent); False if it can't."""
        try:
            return self.lookup(key) == value
        except DecodeError:
            return False

    def check(self) -> None:
        """Raise DecodeError unless every node matches its hash.

        The root node may be absent: the node sends a bare root for a subtree it
        proves no key of (e.g. the calls tree of a contract state).
        """
        for digest in self.nodes:
            self._resolve(digest)

    def entries(self) -> dict[bytes, bytes]:
        """Every key/value whose whole path is in the proof (verified), in key order."""
        found: dict[bytes, bytes] = {}
        if self.root_hash in self.nodes:
            for path, value in self._iter(self._resolve(self.root_hash), ""):
                if len(path) % 2:
                    raise DecodeError(f"key path {path} has an odd number of nibbles")
                found[bytes.fromhex(path)] = value
        return found

    def _iter(self, node: NodeItems, prefix: str) -> Iterator[tuple[str, bytes]]:
        if len(node) == BRANCH_WIDTH:
            if node[16]:
                yield prefix, node[16]
            for nibble, ref in enumerate(node[:16]):
                child = self._child(ref)
                if child is not None:
                    yield from self._iter(child, f"{prefix}{nibble:x}")
            return
        is_leaf, path = split_compact_path(node[0])
        if is_leaf:
            if node[1]:
                yield prefix + path, node[1]
            return
        child = self._child(node[1])
        if child is not None:
            yield from self._iter(child, prefix + path)

    def _child(self, ref: bytes) -> NodeItems | None:
        if not ref or (len(ref) == HASH_SIZE and ref not in self.nodes):
            return None  # empty slot, or a subtree the proof leaves out
        return _follow(ref, self._resolve, b"")

    # -- the pi_ part form: [root_hash, [[node_hash, [node items]], …]] sorted by node hash ---
    def to_rlp(self) -> list[rlp.Item]:
        return [
            self.root_hash,
            [[digest, list(self.nodes[digest])] for digest in sorted(self.nodes)],
        ]

    @classmethod
    def from_rlp(cls, item: rlp.Item, where: str = "proof") -> Proof:
        """Parse one part; nodes must be in the node's order (ascending hash, no repeats)."""
        fields = rlp.expect_list(item, where)
        if len(fields) != 2:
            raise DecodeError(f"proof needs [root_hash, nodes], got {len(fields)} items", where)
        root = rlp.expect_bytes(fields[0], f"{where}.root_hash")
        if len(root) != HASH_SIZE:
            raise DecodeError(f"root hash must be {HASH_SIZE} bytes, got {len(root)}", where)
        nodes: dict[bytes, NodeItems] = {}
        previous = b""
        for i, entry in enumerate(rlp.expect_list(fields[1], f"{where}.nodes")):
            at = f"{where}.nodes[{i}]"
            pair = rlp.expect_list(entry, at)
            if len(pair) != 2:
                raise DecodeError(f"node entry needs [hash, items], got {len(pair)} items", at)
            digest = rlp.expect_bytes(pair[0], f"{at}.hash")
            if len(digest) != HASH_SIZE:
                raise DecodeError(f"node hash must be {HASH_SIZE} bytes, got {len(digest)}", at)
            if digest <= previous:
                raise DecodeError("node hashes must be strictly ascending (the node's order)", at)
            previous = digest
            nodes[digest] = node_items(pair[1], f"{at}.items")
        return cls(root, nodes)
