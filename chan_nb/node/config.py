"""Node-wide settings of the embedded node (chain speed, network id, compatibility).

Per-channel settings (amounts, timeouts, minimum depth …) come from each
client's connect parameters (:mod:`chan_nb.node.params`); what is here is what
the operator of a real node would configure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

#: Default network id: the one every recorded session was signed under (the node's
#: test configuration ``make ct-iris``), so recorded flows verify unchanged. Clients
#: sign with it; pass another with ``--network-id`` / ``EmbeddedNode(network_id=…)``.
DEFAULT_NETWORK_ID: Final = "local_iris_testnet"

#: The node's minimum gas price (aec_governance): fees are gas × this.
MIN_GAS_PRICE: Final = 1_000_000_000

#: What an automatically created account holds: plenty for any test channel.
DEFAULT_AUTO_FUND: Final = 10**24

#: "current": the v7 node; "recorded": the March-2020 build most recordings come from;
#: "older": the 2019 build of the ``set_fee_*`` recordings (disputes-and-current-node.md §2.3)
Era = Literal["current", "recorded", "older"]


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one embedded node.

    * ``create_tx_version`` — 2 as a current (Iris+) node; 1 emulates the node the
      recordings were made with (the JS SDK cannot decode version 1).
    * ``era`` — ``"recorded"`` reproduces the March-2020 node's visible quirks
      (websocket-api.md Appendix A: ``fsm_up`` on reestablish has a null
      ``channel_id``; a kept-running responder gets no ``channels.update`` after its
      peer reestablishes). Defaults to ``"recorded"`` when ``create_tx_version`` is 1.
      ``"older"`` is the recorded build plus the 2019 build's funding frames: no
      ``fsm_id`` and a null ``channel_id`` until the first ``on_chain_tx``.
    * ``block_interval`` — seconds between blocks while the chain has work (a
      mempool tx or a depth being waited for); ``None`` mines only on demand
      (:meth:`chan_nb.node.core.NodeCore.mine`), which deterministic tests use.
    * ``minimum_depth`` — overrides every channel's confirmation depth when set.
    * ``auto_fund`` — accounts are created with ``auto_fund_amount`` the first time
      a client names them (clients use fresh keys). Keys that are not valid
      Ed25519 points cannot belong to anyone and stay unknown (→ error 1011).
    * ``peer_loss_delay`` — how long an FSM takes to notice its peer's FSM died
      (the node notices a dropped noise connection a little later too).
    * ``close_delay`` — the node closes a socket this long after ``died`` or a
      connect-time error frame (a ``stop`` arriving in between still gets ``ok``).
    * ``responder_ports`` — the node's ``channels.listeners`` with
      ``ad_hoc_listen_ports`` off: a responder asking to listen on another port
      is refused with −32603 (``responder_port_not_allowed``). ``None`` (the
      node's default, ad hoc ports on) allows any port.
    * ``max_channels`` — the node's ``channels.max_count`` (1000): a fresh FSM
      beyond it is refused with −32603 (``channel_count_limit_exceeded``);
      reestablishing FSMs are always admitted. Headless FSMs count (a kept-running
      responder whose client left lives on, as on the node). ``None``: no limit.

    Limits that keep one client from growing or stalling the node (the node's own
    come from cowboy and ranch, disputes-and-current-node.md §3.1–§3.2):

    * ``max_connections`` — sockets (and in-memory connections) at once; one more is
      closed without a frame, as the node's ``too_many_ws_sockets``. ``None``: no limit.
    * ``output_high_water`` — bytes queued for one client above which the node stops
      reading that client (a client that sends but does not read meets TCP
      back-pressure, as with the node's blocking send).
    * ``output_limit`` — bytes queued for one client above which the node gives up on
      it: close 1008, then the TCP connection is dropped ``close_timeout`` later.
    * ``send_timeout`` — seconds a client may keep the queue above the high-water mark
      (ranch's ``send_timeout``, 30 s), then the same close.
    * ``idle_timeout`` — cowboy's idle timeout (60 s): a socket with no data from its
      client that long is closed with 1000. ``None``: never.
    * ``open_timeout`` — seconds a TCP connection may take to finish its WebSocket
      handshake.
    * ``close_timeout`` — seconds a closing socket may take before it is dropped.
    * ``max_message_size`` — longest incoming message (bytes); longer closes with 1009.
    """

    network_id: str = DEFAULT_NETWORK_ID
    create_tx_version: int = 2
    era: Era | None = None
    block_interval: float | None = 0.005
    minimum_depth: int | None = None
    auto_fund: bool = True
    auto_fund_amount: int = DEFAULT_AUTO_FUND
    min_gas_price: int = MIN_GAS_PRICE
    peer_loss_delay: float = 0.05
    close_delay: float = 0.002
    funded: dict[str, int] = field(default_factory=dict)  # ak_… -> balance at start
    responder_ports: frozenset[int] | None = None
    max_channels: int | None = 1000
    max_connections: int | None = 1024
    output_high_water: int = 256 * 1024
    output_limit: int = 4 * 1024 * 1024
    send_timeout: float = 30.0
    idle_timeout: float | None = 60.0
    open_timeout: float = 10.0
    close_timeout: float = 1.0
    max_message_size: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.create_tx_version not in (1, 2):
            raise ValueError(f"create_tx_version must be 1 or 2, got {self.create_tx_version}")
        if self.block_interval is not None and self.block_interval < 0:
            raise ValueError("block_interval must be >= 0 or None")
        if self.minimum_depth is not None and self.minimum_depth < 0:
            raise ValueError("minimum_depth must be >= 0")
        if not self.network_id:
            raise ValueError("network_id must not be empty")
        for name in ("max_channels", "max_connections"):
            limit = getattr(self, name)
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be >= 1 or None")
        if not 0 < self.output_high_water <= self.output_limit:
            raise ValueError("need 0 < output_high_water <= output_limit")
        if self.max_message_size < 1:
            raise ValueError("max_message_size must be >= 1")
        for name in ("send_timeout", "open_timeout", "close_timeout", "idle_timeout"):
            seconds = getattr(self, name)
            if seconds is not None and not seconds > 0:
                raise ValueError(f"{name} must be > 0")

    @property
    def effective_era(self) -> Era:
        if self.era is not None:
            return self.era
        return "recorded" if self.create_tx_version == 1 else "current"

    @property
    def recorded_quirks(self) -> bool:
        """Whether the 2020 build's visible quirks apply (the 2019 build has them too)."""
        return self.effective_era != "current"
