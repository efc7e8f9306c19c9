"""The off-chain state a call runs against: accounts, contract objects and contract stores.

A :class:`World` is the decoded, mutable working copy of a channel state's accounts and
contracts trees (fate.md §6.5); :meth:`World.copy` gives the snapshot a failed call is
rolled back to, :meth:`World.to_trees` the trees of the new state. The calls, channels,
names and oracles trees pass through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chan_nb.codec import contracts as ct
from chan_nb.codec.trees import Account, StateTrees


@dataclass
class World:
    """Accounts, contracts and stores by 32-byte pubkey."""

    accounts: dict[bytes, Account] = field(default_factory=dict)
    contracts: dict[bytes, ct.ContractObject] = field(default_factory=dict)
    stores: dict[bytes, dict[bytes, bytes]] = field(default_factory=dict)
    base: StateTrees = field(default_factory=StateTrees)  # the other trees, unchanged

    @classmethod
    def from_trees(cls, trees: StateTrees) -> World:
        split = ct.split_contracts_tree(trees.contracts)
        return cls(
            accounts=trees.account_objects(),
            contracts={
                pk: ct.ContractObject.deserialize(obj, f"contracts[{pk.hex()}]")
                for pk, (obj, _) in split.items()
            },
            stores={pk: dict(store) for pk, (_, store) in split.items()},
            base=trees,
        )

    def copy(self) -> World:
        return World(
            dict(self.accounts),
            dict(self.contracts),
            {pk: dict(s) for pk, s in self.stores.items()},
            self.base,
        )

    def to_trees(self, calls: dict[bytes, bytes] | None = None) -> StateTrees:
        """The state trees of this world; ``calls`` replaces the calls tree if given."""
        entries: dict[bytes, bytes] = {}
        for pk, obj in self.contracts.items():
            entries.update(ct.contract_entries(pk, obj, self.stores.get(pk, {})))
        return StateTrees(
            accounts={pk: acc.serialize() for pk, acc in self.accounts.items()},
            calls=self.base.calls if calls is None else calls,
            channels=self.base.channels,
            contracts=entries,
            ns=self.base.ns,
            oracles=self.base.oracles,
        )

    # -- balances ----------------------------------------------------------------------
    def balance(self, pubkey: bytes) -> int | None:
        acc = self.accounts.get(pubkey)
        return None if acc is None else acc.balance

    def set_balance(self, pubkey: bytes, balance: int) -> None:
        acc = self.accounts.get(pubkey)
        if acc is None:
            self.accounts[pubkey] = Account(0, balance)
        else:
            self.accounts[pubkey] = Account(
                acc.nonce, balance, acc.flags, acc.ga_contract, acc.ga_auth_fun
            )

    def move(self, source: bytes, target: bytes, amount: int) -> bool:
        """Move coins (the target account is created if absent); False if ``source`` lacks them."""
        have = self.balance(source)
        if have is None or have < amount:
            return False
        self.set_balance(source, have - amount)
        self.set_balance(target, (self.balance(target) or 0) + amount)
        return True


__all__ = ["World"]
