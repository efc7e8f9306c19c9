"""Off-chain state trees: accounts, the state hash, ``ss_``/``cs_`` trees and ``pi_`` proofs.

A channel's state is six Merkle Patricia trees (serialization.md §12). The
accounts tree is interpreted here (:class:`Account`); contract, call, channel,
name and oracle objects are kept as serialized values — they need no decoding
to be hashed, serialized or proved — and contracts and calls decode on request
(:mod:`chan_nb.codec.contracts`). ``state_hash`` follows §12.3
(accounts first), ``ss_`` follows §12.4 (contracts first), ``pi_`` the PoI layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from chan_nb.codec import encoding, rlp
from chan_nb.codec.contracts import CallObject, ContractObject, split_contracts_tree
from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.ids import Id
from chan_nb.codec.mpt import HASH_SIZE, MerklePatriciaTree, Proof
from chan_nb.errors import ChanNbError, DecodeError

TreeName = Literal["accounts", "calls", "channels", "contracts", "ns", "oracles"]

#: Order of the roots in the state hash and of the parts of a PoI.
HASH_ORDER: Final[tuple[TreeName, ...]] = (
    "accounts",
    "calls",
    "channels",
    "contracts",
    "ns",
    "oracles",
)
#: Order of the subtrees inside a serialized ``ss_`` (contracts first).
SS_ORDER: Final[tuple[TreeName, ...]] = (
    "contracts",
    "calls",
    "channels",
    "ns",
    "oracles",
    "accounts",
)
#: Object tag of each subtree wrapper ``RLP([tag, 1, mtree])``.
SUBTREE_TAG: Final[dict[TreeName, int]] = {
    "contracts": 621,
    "calls": 622,
    "channels": 623,
    "ns": 624,
    "oracles": 625,
    "accounts": 626,
}

TAG_ACCOUNT: Final = 10
TAG_POI: Final = 60
TAG_STATE_TREES: Final = 62
TAG_MTREE: Final = 63
TAG_MTREE_VALUE: Final = 64

STATE_TREES_VERSION: Final = 0
POI_VERSION: Final = 1
SUBTREE_VERSION: Final = 1
MTREE_VERSION: Final = 1
STATE_HASH_VERSION: Final = 1  # the uint64 prefix of the hashed root concatenation

EMPTY_ROOT: Final = bytes(HASH_SIZE)  # what an empty tree contributes to the state hash

#: Suffix byte after a contract pubkey that starts its store keys (``aect_contracts:store_id``).
CONTRACT_STORE_MARK: Final = b"\x10"


class NotInTreeError(ChanNbError, LookupError):
    """A proof was asked for a key that the state trees do not hold (the node's not_present)."""


# -- small RLP helpers ---------------------------------------------------------------------------


def _header(
    items: rlp.Item, tag: int, versions: Iterable[int], what: str, where: str
) -> list[rlp.Item]:
    """Check ``[tag, version, …]``; return the whole list (version at index 1)."""
    fields = rlp.expect_list(items, where)
    if len(fields) < 2:
        raise DecodeError(f"{what} needs a tag and a version", where)
    got_tag = rlp.decode_int(fields[0], f"{where}.tag")
    if got_tag != tag:
        raise DecodeError(f"expected {what} (tag {tag}), got tag {got_tag}", where)
    version = rlp.decode_int(fields[1], f"{where}.version")
    allowed = tuple(versions)
    if version not in allowed:
        known = ", ".join(str(v) for v in allowed)
        raise DecodeError(f"unsupported {what} version {version} (known: {known})", where)
    return fields


def _decode_bytes(data: bytes, where: str) -> rlp.Item:
    try:
        return rlp.decode(data)
    except DecodeError as exc:
        raise exc.at(where) from None


def _check_count(fields: list[rlp.Item], count: int, what: str, where: str) -> None:
    if len(fields) != count:
        raise DecodeError(f"{what} has {count - 2} fields, got {len(fields) - 2}", where)


# -- accounts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """An account object (tag 10); off-chain participants are plain v1 accounts.

    The serialized version follows the node (``aec_accounts:serialize``): v1
    ``[nonce, balance]`` when there are no flags and no GA contract, v2 ``[flags,
    nonce, balance, ga_contract, ga_auth_fun]`` for a generalized account, v3
    ``[flags, nonce, balance]`` otherwise.
    """

    nonce: int
    balance: int
    flags: int = 0
    ga_contract: Id | None = None
    ga_auth_fun: bytes | None = None

    def __post_init__(self) -> None:
        for name in ("nonce", "balance", "flags"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"account {name} must be a non-negative int, got {value!r}")
        if (self.ga_contract is None) != (self.ga_auth_fun is None):
            raise ValueError("a generalized account needs both ga_contract and ga_auth_fun")

    @property
    def version(self) -> int:
        if self.ga_contract is not None:
            return 2
        return 1 if self.flags == 0 else 3

    def serialize(self) -> bytes:
        """The node's bytes for this account (the value in the accounts tree)."""
        head = [rlp.encode_int(TAG_ACCOUNT), rlp.encode_int(self.version)]
        if self.ga_contract is not None and self.ga_auth_fun is not None:
            return rlp.encode(
                [
                    *head,
                    rlp.encode_int(self.flags),
                    rlp.encode_int(self.nonce),
                    rlp.encode_int(self.balance),
                    self.ga_contract.to_bytes(),
                    self.ga_auth_fun,
                ]
            )
        if self.flags:
            return rlp.encode(
                [
                    *head,
                    rlp.encode_int(self.flags),
                    rlp.encode_int(self.nonce),
                    rlp.encode_int(self.balance),
                ]
            )
        return rlp.encode([*head, rlp.encode_int(self.nonce), rlp.encode_int(self.balance)])

    @classmethod
    def decode(cls, data: bytes, where: str = "account") -> Account:
        """Parse versions 1-3; a v3 account without flags is refused (the node writes v1)."""
        fields = _header(_decode_bytes(data, where), TAG_ACCOUNT, (1, 2, 3), "account", where)
        version = rlp.decode_int(fields[1])
        if version == 1:
            _check_count(fields, 4, "account v1", where)
            return cls(
                nonce=rlp.decode_int(fields[2], f"{where}.nonce"),
                balance=rlp.decode_int(fields[3], f"{where}.balance"),
            )
        if version == 2:
            _check_count(fields, 7, "account v2", where)
            return cls(
                flags=rlp.decode_int(fields[2], f"{where}.flags"),
                nonce=rlp.decode_int(fields[3], f"{where}.nonce"),
                balance=rlp.decode_int(fields[4], f"{where}.balance"),
                ga_contract=Id.from_bytes(
                    rlp.expect_bytes(fields[5], f"{where}.ga_contract"), f"{where}.ga_contract"
                ),
                ga_auth_fun=rlp.expect_bytes(fields[6], f"{where}.ga_auth_fun"),
            )
        _check_count(fields, 5, "account v3", where)
        flags = rlp.decode_int(fields[2], f"{where}.flags")
        if flags == 0:
            raise DecodeError(
                "account v3 with flags 0 (the node writes such an account as v1)", where
            )
        return cls(
            flags=flags,
            nonce=rlp.decode_int(fields[3], f"{where}.nonce"),
            balance=rlp.decode_int(fields[4], f"{where}.balance"),
        )


def _account_bytes(balance: int) -> bytes:
    """Serialized v1 account with nonce 0: what every off-chain participant is."""
    if not isinstance(balance, int) or isinstance(balance, bool) or balance < 0:
        raise ValueError(f"balance must be a non-negative int, got {balance!r}")
    return rlp.encode([b"\x0a", b"\x01", b"\x00", rlp.encode_int(balance)])


def state_hash_of_roots(roots: Mapping[TreeName, bytes | None]) -> bytes:
    """§12.3: blake2b(uint64 1 ‖ accounts, calls, channels, contracts, ns, oracles roots)."""
    parts = [STATE_HASH_VERSION.to_bytes(8, "big")]
    for name in HASH_ORDER:
        root = roots.get(name)
        parts.append(EMPTY_ROOT if root is None else root)
    return blake2b_256(b"".join(parts))


def state_hash_of_balances(balances: Mapping[bytes, int]) -> bytes:
    """State hash of an accounts-only channel (nonce-0 v1 accounts); the per-update hot path."""
    accounts = {pubkey: _account_bytes(balance) for pubkey, balance in balances.items()}
    return state_hash_of_roots({"accounts": MerklePatriciaTree(accounts).root_hash})


# -- mtree / subtree serialization ----------------------------------------------------------------


def _mtree_to_bytes(entries: Mapping[bytes, bytes]) -> bytes:
    """``RLP([63, 1, [RLP([64, 1, key, value]) …]])`` in the node's order (descending key)."""
    values: list[rlp.Item] = [
        rlp.encode([rlp.encode_int(TAG_MTREE_VALUE), rlp.encode_int(MTREE_VERSION), key, value])
        for key, value in sorted(entries.items(), reverse=True)
    ]
    return rlp.encode([rlp.encode_int(TAG_MTREE), rlp.encode_int(MTREE_VERSION), values])


def _mtree_from_bytes(data: bytes, where: str) -> dict[bytes, bytes]:
    fields = _header(_decode_bytes(data, where), TAG_MTREE, (MTREE_VERSION,), "mtree", where)
    _check_count(fields, 3, "mtree", where)
    entries: dict[bytes, bytes] = {}
    previous: bytes | None = None
    for i, raw in enumerate(rlp.expect_list(fields[2], f"{where}.values")):
        at = f"{where}.values[{i}]"
        value_fields = _header(
            _decode_bytes(rlp.expect_bytes(raw, at), at),
            TAG_MTREE_VALUE,
            (MTREE_VERSION,),
            "mtree value",
            at,
        )
        _check_count(value_fields, 4, "mtree value", at)
        key = rlp.expect_bytes(value_fields[2], f"{at}.key")
        value = rlp.expect_bytes(value_fields[3], f"{at}.val")
        if not key:
            raise DecodeError("empty key", f"{at}.key")
        if not value:
            raise DecodeError("empty value (the node stores none)", f"{at}.val")
        if previous is not None and key >= previous:
            raise DecodeError(
                "values must be in strictly descending key order (the node's order)", at
            )
        previous = key
        entries[key] = value
    return entries


def serialize_subtree(name: TreeName, entries: Mapping[bytes, bytes]) -> bytes:
    """One subtree as the node serializes it: ``RLP([62x, 1, mtree bytes])``."""
    return rlp.encode(
        [
            rlp.encode_int(SUBTREE_TAG[name]),
            rlp.encode_int(SUBTREE_VERSION),
            _mtree_to_bytes(entries),
        ]
    )


def decode_subtree(name: TreeName, data: bytes, where: str | None = None) -> dict[bytes, bytes]:
    """Key → value entries of one serialized subtree (e.g. the ``cs_`` calls tree)."""
    at = where or name
    fields = _header(
        _decode_bytes(data, at), SUBTREE_TAG[name], (SUBTREE_VERSION,), f"{name} tree", at
    )
    _check_count(fields, 3, f"{name} tree", at)
    return _mtree_from_bytes(rlp.expect_bytes(fields[2], f"{at}.mtree"), f"{at}.mtree")


def calls_to_api(calls: Mapping[bytes, bytes]) -> str:
    """``cs_`` string of a calls tree (``channels.get.offchain_state`` → ``calls``)."""
    return encoding.encode("cs", serialize_subtree("calls", calls))


def calls_from_api(text: str) -> dict[bytes, bytes]:
    """Entries of a ``cs_`` calls tree."""
    return decode_subtree("calls", encoding.decode(text, "cs"), "cs")


# -- state trees --------------------------------------------------------------------------------


def _frozen(name: str, entries: Mapping[bytes, bytes]) -> Mapping[bytes, bytes]:
    for key, value in entries.items():
        if not isinstance(key, bytes) or not key:
            raise ValueError(f"{name} keys must be non-empty bytes, got {key!r}")
        if not isinstance(value, bytes) or not value:
            raise ValueError(f"{name} values must be non-empty bytes (key {key.hex()})")
    return MappingProxyType(dict(entries))


@dataclass(frozen=True)
class StateTrees:
    """The six subtrees of an off-chain state, each key → serialized value bytes."""

    accounts: Mapping[bytes, bytes] = field(default_factory=dict)
    calls: Mapping[bytes, bytes] = field(default_factory=dict)
    channels: Mapping[bytes, bytes] = field(default_factory=dict)
    contracts: Mapping[bytes, bytes] = field(default_factory=dict)
    ns: Mapping[bytes, bytes] = field(default_factory=dict)
    oracles: Mapping[bytes, bytes] = field(default_factory=dict)
    _mpts: dict[str, MerklePatriciaTree] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in HASH_ORDER:
            object.__setattr__(self, name, _frozen(name, getattr(self, name)))

    @classmethod
    def from_balances(cls, balances: Mapping[bytes, int]) -> StateTrees:
        """Accounts-only trees: nonce-0 v1 accounts keyed by 32-byte pubkey."""
        return cls(accounts={pk: _account_bytes(bal) for pk, bal in balances.items()})

    @classmethod
    def from_accounts(cls, accounts: Mapping[bytes, Account]) -> StateTrees:
        return cls(accounts={pk: acc.serialize() for pk, acc in accounts.items()})

    # -- hashing ---------------------------------------------------------------------------
    def tree(self, name: TreeName) -> MerklePatriciaTree:
        """The Merkle Patricia tree of one subtree (built once, then cached)."""
        built = self._mpts.get(name)
        if built is None:
            built = MerklePatriciaTree(getattr(self, name))
            self._mpts[name] = built
        return built

    def root_hashes(self) -> dict[TreeName, bytes | None]:
        return {name: self.tree(name).root_hash for name in HASH_ORDER}

    def state_hash(self) -> bytes:
        """The ``st_`` payload the off-chain txs sign (§12.3)."""
        return state_hash_of_roots(self.root_hashes())

    # -- accounts --------------------------------------------------------------------------
    def account_objects(self) -> dict[bytes, Account]:
        """Decoded accounts by pubkey."""
        return {
            pk: Account.decode(raw, f"accounts[{pk.hex()}]") for pk, raw in self.accounts.items()
        }

    def balances(self) -> dict[bytes, int]:
        """Account pubkey → balance."""
        return {pk: acc.balance for pk, acc in self.account_objects().items()}

    # -- contracts and calls ------------------------------------------------------------
    def contract_objects(self) -> dict[bytes, ContractObject]:
        """Decoded contract objects by contract pubkey (store entries left out)."""
        return {
            pk: ContractObject.deserialize(obj, f"contracts[{pk.hex()}]")
            for pk, (obj, _) in split_contracts_tree(self.contracts).items()
        }

    def contract_store(self, pubkey: bytes) -> dict[bytes, bytes]:
        """Store key → value of one contract (FATE: ``00 01`` is register 1 …)."""
        if pubkey not in self.contracts:
            raise NotInTreeError(f"no contract {pubkey.hex()} in the contracts tree")
        return split_contracts_tree(self.contracts)[pubkey][1]

    def call_objects(self) -> dict[bytes, CallObject]:
        """Decoded call objects of the round, keyed as in the calls tree."""
        return {
            key: CallObject.deserialize(raw, f"calls[{key.hex()}]")
            for key, raw in self.calls.items()
        }

    # -- ss_ ------------------------------------------------------------------------------
    def serialize(self) -> bytes:
        """The ``ss_`` payload: ``RLP([62, 0, contracts, calls, channels, ns, oracles, accounts])``.

        Each field is a serialized subtree (:func:`serialize_subtree`).
        """
        return rlp.encode(
            [
                rlp.encode_int(TAG_STATE_TREES),
                rlp.encode_int(STATE_TREES_VERSION),
                *(serialize_subtree(name, getattr(self, name)) for name in SS_ORDER),
            ]
        )

    def to_api(self) -> str:
        return encoding.encode("ss", self.serialize())

    @classmethod
    def decode(cls, data: bytes, where: str = "ss") -> StateTrees:
        fields = _header(
            _decode_bytes(data, where),
            TAG_STATE_TREES,
            (STATE_TREES_VERSION,),
            "state_trees",
            where,
        )
        _check_count(fields, 2 + len(SS_ORDER), "state_trees", where)
        parts = {
            name: decode_subtree(name, rlp.expect_bytes(raw, f"{where}.{name}"), f"{where}.{name}")
            for name, raw in zip(SS_ORDER, fields[2:], strict=True)
        }
        return cls(**parts)

    @classmethod
    def from_api(cls, text: str) -> StateTrees:
        return cls.decode(encoding.decode(text, "ss"))

    # -- proofs ---------------------------------------------------------------------------
    def poi(self, accounts: Iterable[bytes] = (), contracts: Iterable[bytes] = ()) -> Poi:
        """Proof of inclusion of some accounts and contracts (with their stores), like the node.

        Every non-empty subtree gets a part (its root, plus the nodes on the
        proved paths); empty ones none. Asking for a key that is not there raises
        :class:`NotInTreeError`, as the node answers ``not_present``.
        """
        wanted: dict[TreeName, list[bytes]] = {"accounts": [], "contracts": []}
        for pubkey in accounts:
            if pubkey not in self.accounts:
                raise NotInTreeError(f"no account {pubkey.hex()} in the accounts tree")
            wanted["accounts"].append(pubkey)
        for pubkey in contracts:
            if pubkey not in self.contracts:
                raise NotInTreeError(f"no contract {pubkey.hex()} in the contracts tree")
            store_prefix = pubkey + CONTRACT_STORE_MARK
            wanted["contracts"].append(pubkey)
            wanted["contracts"].extend(
                key
                for key in self.contracts
                if key.startswith(store_prefix) and len(key) > len(store_prefix)
            )
        parts: dict[TreeName, Proof | None] = {}
        for name in HASH_ORDER:
            tree = self.tree(name)
            parts[name] = None if tree.root_hash is None else tree.proof(wanted.get(name, []))
        return Poi(**parts)


# -- proof of inclusion --------------------------------------------------------------------------


@dataclass(frozen=True)
class Poi:
    """A ``pi_`` proof of inclusion: one optional :class:`Proof` per subtree."""

    accounts: Proof | None = None
    calls: Proof | None = None
    channels: Proof | None = None
    contracts: Proof | None = None
    ns: Proof | None = None
    oracles: Proof | None = None

    def part(self, name: TreeName) -> Proof | None:
        if name not in HASH_ORDER:
            raise ValueError(f"unknown tree {name!r} (known: {', '.join(HASH_ORDER)})")
        part: Proof | None = getattr(self, name)
        return part

    def root_hashes(self) -> dict[TreeName, bytes | None]:
        roots: dict[TreeName, bytes | None] = {}
        for name in HASH_ORDER:
            part = self.part(name)
            roots[name] = None if part is None else part.root_hash
        return roots

    def state_hash(self) -> bytes:
        """The state hash this PoI proves (§12.3 over the part roots)."""
        return state_hash_of_roots(self.root_hashes())

    root_hash = state_hash  # the node's name (aec_trees:poi_hash)

    def check(self) -> None:
        """Raise DecodeError unless every node of every part matches its hash."""
        for name in HASH_ORDER:
            part = self.part(name)
            if part is not None:
                try:
                    part.check()
                except DecodeError as exc:
                    raise exc.at(f"pi.{name}") from None

    # -- lookups (each walk verifies node hashes) -----------------------------------------
    def lookup(self, name: TreeName, key: bytes) -> bytes | None:
        """Verified serialized value at ``key`` in one subtree; None if proved absent.

        Raises DecodeError when the proof does not cover the key or a node is tampered.
        """
        part = self.part(name)
        if part is None:
            return None
        try:
            return part.lookup(key)
        except DecodeError as exc:
            raise exc.at(f"pi.{name}") from None

    def account(self, pubkey: bytes) -> Account | None:
        raw = self.lookup("accounts", pubkey)
        return None if raw is None else Account.decode(raw, f"pi.accounts[{pubkey.hex()}]")

    def balance_of(self, pubkey: bytes) -> int | None:
        """Verified balance of an account; None if the proof shows it is not there."""
        account = self.account(pubkey)
        return None if account is None else account.balance

    def balances(self) -> dict[bytes, int]:
        """Balance of every account whose path the proof holds."""
        if self.accounts is None:
            return {}
        return {
            pk: Account.decode(raw, f"pi.accounts[{pk.hex()}]").balance
            for pk, raw in self.accounts.entries().items()
        }

    # -- pi_ -------------------------------------------------------------------------------
    def serialize(self) -> bytes:
        """``RLP([60, 1, accounts, calls, channels, contracts, ns, oracles])``.

        Each part is ``[]`` for an empty tree, else ``[[root_hash, [[node_hash, items] …]]]``.
        """
        parts: list[rlp.Item] = []
        for name in HASH_ORDER:
            part = self.part(name)
            parts.append([] if part is None else [part.to_rlp()])
        return rlp.encode([rlp.encode_int(TAG_POI), rlp.encode_int(POI_VERSION), *parts])

    def to_api(self) -> str:
        return encoding.encode("pi", self.serialize())

    @classmethod
    def decode(cls, data: bytes, where: str = "pi") -> Poi:
        fields = _header(_decode_bytes(data, where), TAG_POI, (POI_VERSION,), "poi", where)
        _check_count(fields, 2 + len(HASH_ORDER), "poi", where)
        parts: dict[str, Proof | None] = {}
        for name, raw in zip(HASH_ORDER, fields[2:], strict=True):
            at = f"{where}.{name}"
            wrapped = rlp.expect_list(raw, at)
            if len(wrapped) > 1:
                raise DecodeError(f"a poi part is [] or [proof], got {len(wrapped)} items", at)
            parts[name] = Proof.from_rlp(wrapped[0], at) if wrapped else None
        return cls(**parts)

    @classmethod
    def from_api(cls, text: str) -> Poi:
        return cls.decode(encoding.decode(text, "pi"))
