"""The client's dispute awaitables on the embedded node: close_solo, slash, settle, snapshot.

Each signs only after the signing policy checked the node's tx against the session's own
view (sender, channel, payload = latest co-signed state, settle amounts = own balance).
"""

from __future__ import annotations

import asyncio

import pytest

from chan_nb.client import Recorder, SigningPolicy, open_pair
from chan_nb.client.errors import ClientError
from chan_nb.codec import encoding
from chan_nb.node import EmbeddedNode
from chan_nb.node.outofband import stale_close_solo
from chan_nb.scenarios import run_scenario


async def _pair(node: EmbeddedNode, recorder: Recorder | None = None) -> tuple:
    return await open_pair(node, recorder=recorder or Recorder("disputes"), timeout=10)


def test_snapshot_then_close_solo_then_settle_pays_out_the_latest_state() -> None:
    async def main() -> None:
        async with EmbeddedNode() as node:
            i, r = await _pair(node)
            await i.transfer(r.address, 10)
            report = await i.snapshot()
            assert (report.info, report.tx_type) == ("channel_changed", "channel_snapshot_solo_tx")
            channel = node.core.chain.channel(encoding.decode(str(i.channel_id), "ch"))
            assert channel is not None and channel.round == 2
            before = node.balance(r.address)
            balances = await r.balances_of()
            await r.disconnect()  # the peer vanishes
            report = await i.close_solo()
            assert (report.info, report.tx_type) == ("solo_closing", "channel_close_solo_tx")
            report = await i.settle(timeout=20)
            assert (report.info, report.tx_type) == ("channel_closed", "channel_settle_tx")
            await i.wait_closed(timeout=20)
            assert node.balance(r.address) == before + balances[r.address]
            await asyncio.gather(i.close(), r.close())

    asyncio.run(main())


def test_a_stale_close_by_the_peer_is_slashed() -> None:
    async def main() -> None:
        async with EmbeddedNode(block_interval=None) as node:
            from chan_nb.scenarios import Miner

            miner = Miner(node)
            miner.start()
            i, r = await _pair(node)
            poi = await r.poi()
            await r.transfer(i.address, 7)
            miner.hold()
            channel = encoding.decode(str(i.channel_id), "ch")
            node.post_tx(
                stale_close_solo(
                    node.core.chain, channel, r.signer.keypair, encoding.decode(poi, "pi")
                )
            )
            miner.release()
            report = await i.wait_for("on_chain_tx.can_slash", timeout=10)
            assert report.tx_type == "channel_offchain_tx"
            slashed = await i.slash()
            assert (slashed.info, slashed.tx_type) == ("solo_closing", "channel_slash_tx")
            on_chain = node.core.chain.channel(channel)
            assert on_chain is not None and on_chain.round == 2
            settled = await r.settle(timeout=20)  # the cheater settles on the slashed state
            assert settled.info == "channel_closed"
            await miner.stop()
            await asyncio.gather(i.close(), r.close())

    asyncio.run(main())


def test_wrong_use_raises_the_nodes_error_and_manual_signing_shows_the_request() -> None:
    async def main() -> None:
        async with EmbeddedNode() as node:
            i, r = await _pair(node)
            with pytest.raises(ClientError):
                await i.slash(timeout=5)  # not closing: the node answers -32603
            i.policy = SigningPolicy(mode="manual")
            task = asyncio.ensure_future(i.close_solo())
            pending = await i.wait_for_signature_request(timeout=5)
            assert pending.request.tag == "close_solo_sign"
            assert pending.problems == ()  # what we asked for, from us, on our latest state
            await i.approve(pending)
            report = await task
            assert report.info == "solo_closing"
            await asyncio.gather(i.close(), r.close())

    asyncio.run(main())


def test_the_dispute_scenario_records_every_dispute_operation() -> None:
    run = asyncio.run(run_scenario("dispute", memory=True))
    assert run.ok, run.error
    kinds = [op.kind for op in run.log.operations() if op.starter == "initiator"]
    assert kinds[-3:] == ["close_solo", "slash", "settle"]
    assert all(op.outcome == "ok" for op in run.log.operations())
    ladder = run.log.ladder().mermaid()
    for step in ("close_solo", "slash", "settle", "can_slash", "channel_closed"):
        assert step in ladder
