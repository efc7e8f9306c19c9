"""The channel panel: buttons for a channel's life over a pair of sessions.

``panel = await ChannelPanel.create()`` starts an embedded node and two fresh sessions
(initiator and responder) sharing one recorder; ``ChannelPanel(initiator, responder)``
wraps sessions you made yourself (any node). Every button starts its action in the
background (:class:`~chan_nb.widgets.actions.ActionRunner`) and returns at once; the
button stays disabled while its action runs, and the outcome — conflicts and errors
included — appears in the panel's messages. Status, round, balances, channel and fsm
ids per participant, pending signing requests (manual mode) and the last frames
refresh on every event the sessions see.

The contract row deploys :data:`~chan_nb.codec.fate.examples.RACE21` (``who`` moves
first, the amount is the pot) and calls or dry-runs any function of the panel's
contract with arguments written as FATE values (``3``, ``"text"``, ``@ak_…``); each
result is the caller's own VM run, and a move the contract refuses is refused by the
other side's client, in the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as w

from chan_nb.client.errors import ClientError
from chan_nb.client.policy import SigningPolicy
from chan_nb.codec import encoding
from chan_nb.codec.fate import Address, Value, parse_value
from chan_nb.codec.fate.examples import race21_code
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.widgets import panel_view as view
from chan_nb.widgets.actions import ActionRunner
from chan_nb.widgets.theme import style_widget

if TYPE_CHECKING:
    from chan_nb.client.session import Session
    from chan_nb.node import EmbeddedNode
    from chan_nb.widgets.stepper import ReplayStepper

ROLES: Final = ("initiator", "responder")
DIRECTIONS: Final = {
    "initiator → responder": ("initiator", "responder"),
    "responder → initiator": ("responder", "initiator"),
}


class InputError(ChanNbError):
    """What was typed into the panel cannot be used (e.g. an amount that is not a number)."""


def parse_amount(text: str) -> int:
    """An exact amount in aettos from a text box (``1_000``, ``1,000`` and ``1 000`` work)."""
    cleaned = text.strip().replace("_", "").replace(",", "").replace(" ", "")
    if not cleaned.lstrip("-").isdigit():
        raise InputError(f"the amount must be a whole number of aettos, got {text!r}")
    return int(cleaned)


def parse_args(text: str) -> tuple[Value, ...]:
    """Call arguments from a text box: FATE values separated by commas (``3``, ``"a", 1``)."""
    if not text.strip():
        return ()
    try:
        value = parse_value(f"({text},)") if "," not in text else parse_value(f"({text})")
    except DecodeError as exc:
        raise InputError(f"the arguments must be FATE values, got {text!r}: {exc}") from None
    return value if isinstance(value, tuple) else (value,)


class ChannelPanel:
    """ipywidgets controls and live state for one channel between two local sessions."""

    def __init__(
        self,
        initiator: Session,
        responder: Session,
        *,
        node: EmbeddedNode | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        frames: int = 12,
    ) -> None:
        if (initiator.role, responder.role) != ROLES:
            raise ValueError("give the initiator's session first, then the responder's")
        self.sessions: dict[str, Session] = {"initiator": initiator, "responder": responder}
        self.node = node
        self.loop = loop or _current_loop()
        self.runner = ActionRunner(self.loop, self._schedule_refresh)
        self._refresh_pending = False
        #: the contract the call and dry run buttons act on (set by deploy)
        self.contract_id: str | None = None
        self._build(frames)
        for role, session in self.sessions.items():
            session.on_event(self._listener(role))
        recorder = initiator.recorder
        recorder.listeners.append(lambda _frame: self._schedule_refresh())
        if responder.recorder is not recorder:
            responder.recorder.listeners.append(lambda _frame: self._schedule_refresh())
        self.refresh()

    def _listener(self, role: str) -> Callable[[object], None]:
        def on_event(event: object) -> None:
            refused = view.refusal(event)
            if refused is not None:  # the policy's or the view's refusal, in one line
                self.runner.notify("error", f"{role} refused", refused)
            self._schedule_refresh()

        return on_event

    # -- construction ------------------------------------------------------------------
    @classmethod
    async def create(cls, node: EmbeddedNode | None = None, **session_options: Any) -> ChannelPanel:
        """A panel over two fresh sessions on ``node`` (a new embedded node by default)."""
        from chan_nb.client import new_pair
        from chan_nb.node import EmbeddedNode

        if node is None:
            node = await EmbeddedNode().start()
        initiator, responder = new_pair(node, **session_options)
        return cls(initiator, responder, node=node, loop=asyncio.get_running_loop())

    def _build(self, frames: int) -> None:
        layout = w.Layout(width="auto")
        self.open_button = w.Button(description="open", button_style="success", layout=layout)
        self.leave_button = w.Button(description="leave", layout=layout)
        self.reestablish_button = w.Button(description="reestablish", layout=layout)
        self.shutdown_button = w.Button(
            description="shutdown", button_style="danger", layout=layout
        )
        self.transfer_button = w.Button(
            description="transfer", button_style="primary", layout=layout
        )
        self.message_button = w.Button(description="send message", layout=layout)
        self.disconnect_button = w.Button(
            description="disconnect", button_style="warning", layout=layout
        )
        self.reconnect_button = w.Button(description="reconnect", layout=layout)
        # the dispute section: on-chain actions of `who`, blocks by hand, the chain's view
        self.close_solo_button = w.Button(
            description="close solo", button_style="danger", layout=layout
        )
        self.snapshot_button = w.Button(description="snapshot", layout=layout)
        self.slash_button = w.Button(description="slash", button_style="warning", layout=layout)
        self.settle_button = w.Button(description="settle", button_style="danger", layout=layout)
        self.mine_button = w.Button(description="mine 5 blocks", layout=layout)
        # the contract row: deploy the game, call or dry-run a function of it as `who`
        self.deploy_button = w.Button(description="deploy game", button_style="info", layout=layout)
        self.call_button = w.Button(description="call", button_style="primary", layout=layout)
        self.dry_run_button = w.Button(description="dry run", layout=layout)
        self.function = w.Text(value="play", description="function", layout=w.Layout(width="200px"))
        self.args = w.Text(value="1", description="args", layout=w.Layout(width="200px"))
        self.chain_line = w.HTML()
        self.amount = w.Text(value="1", description="amount", layout=w.Layout(width="230px"))
        self.direction = w.Dropdown(options=list(DIRECTIONS), layout=w.Layout(width="200px"))
        self.message_text = w.Text(value="Hello", description="message")
        toggles = {"layout": w.Layout(width="auto"), "style": {"description_width": "initial"}}
        self.who = w.ToggleButtons(
            options=list(ROLES), description="who", value="responder", **toggles
        )
        self.who.style.button_width = "90px"
        self.signing = w.ToggleButtons(options=["auto", "manual"], description="signing", **toggles)
        self.signing.style.button_width = "70px"
        self.approve_buttons = {
            role: w.Button(description=f"approve ({role})", button_style="success")
            for role in ROLES
        }
        self.reject_buttons = {
            role: w.Button(description=f"reject ({role})", button_style="danger") for role in ROLES
        }
        self.cards = {role: w.HTML(layout=w.Layout(flex="1 1 50%")) for role in ROLES}
        self.pending = {role: w.HTML() for role in ROLES}
        self.notices = w.HTML()
        self.frame_filter = w.Dropdown(
            options=list(view.FRAME_FILTERS), description="frames", layout=w.Layout(width="260px")
        )
        self.frame_search = w.Text(placeholder="contains…", layout=w.Layout(width="180px"))
        self.frame_count = w.BoundedIntText(
            value=frames, min=1, max=500, description="last", layout=w.Layout(width="130px")
        )
        self.frames = w.HTML()
        self.title = w.HTML()

        self.actions: dict[str, Any] = {
            "open": self.open_button,
            "leave": self.leave_button,
            "reestablish": self.reestablish_button,
            "shutdown": self.shutdown_button,
            "transfer": self.transfer_button,
            "message": self.message_button,
            "disconnect": self.disconnect_button,
            "reconnect": self.reconnect_button,
            "close_solo": self.close_solo_button,
            "snapshot": self.snapshot_button,
            "slash": self.slash_button,
            "settle": self.settle_button,
            "deploy": self.deploy_button,
            "call": self.call_button,
            "dry_run": self.dry_run_button,
        }
        for name, button in self.actions.items():
            button.add_class(f"chan-nb-{name}")
            button.on_click(lambda _b, name=name: self.start(name))
        self.mine_button.add_class("chan-nb-mine")
        self.mine_button.on_click(lambda _b: self.mine(5))
        for role in ROLES:
            self.approve_buttons[role].on_click(lambda _b, role=role: self.decide(role, True))
            self.reject_buttons[role].on_click(lambda _b, role=role: self.decide(role, False))
        for name, control in (
            ("amount", self.amount),
            ("direction", self.direction),
            ("message-text", self.message_text),
            ("who", self.who),
            ("signing", self.signing),
            ("function", self.function),
            ("args", self.args),
        ):
            control.add_class(f"chan-nb-{name}")
        for role in ROLES:
            self.approve_buttons[role].add_class(f"chan-nb-approve-{role}")
            self.reject_buttons[role].add_class(f"chan-nb-reject-{role}")
        self.signing.observe(self._on_signing, names="value")
        for control in (self.frame_filter, self.frame_search, self.frame_count):
            control.observe(lambda _change: self._draw_frames(), names="value")
        for control in (self.who, self.direction):  # what the buttons can do depends on them
            control.observe(lambda _change: self.refresh(), names="value")

        self.signing_box = w.VBox(
            [
                w.HBox([self.approve_buttons[r], self.reject_buttons[r], self.pending[r]])
                for r in ROLES
            ]
        )
        cards = w.HBox([self.cards["initiator"], self.cards["responder"]])
        cards.add_class("chan-nb-cards")
        self.widget = w.VBox(
            [
                self.title,
                w.HBox([self.open_button, self.leave_button, self.reestablish_button,
                        self.shutdown_button, self.signing]),
                w.HBox([self.amount, self.direction, self.transfer_button]),
                w.HBox([self.message_text, self.message_button]),
                w.HBox([self.who, self.disconnect_button, self.reconnect_button]),
                w.HBox([self.close_solo_button, self.snapshot_button, self.slash_button,
                        self.settle_button, self.mine_button]),
                w.HBox([self.deploy_button, self.function, self.args, self.call_button,
                        self.dry_run_button]),
                self.chain_line,
                cards,
                self.signing_box,
                self.notices,
                w.HBox([self.frame_filter, self.frame_search, self.frame_count]),
                self.frames,
                style_widget(),
            ]
        )  # fmt: skip
        self.widget.add_class("chan-nb-panel")

    # -- actions -------------------------------------------------------------------------
    def start(self, name: str) -> bool:
        """Start the action behind button ``name`` (returns at once; False if refused)."""
        try:
            factory, done = self._action(name)
        except (InputError, ClientError, KeyError, ValueError) as exc:
            self.runner.notify("error", name, str(exc))
            self.refresh()
            return False
        started = self.runner.start(name, factory, done)
        if started:
            self.actions[name].disabled = True  # at once, not at the next redraw
        return started

    def _action(self, name: str) -> tuple[Any, Any]:
        i = self.sessions["initiator"]
        who = self.sessions[str(self.who.value)]
        if name == "open":
            return self._open, lambda _: f"channel open at round {i.round}: {i.channel_id}"
        if name == "transfer":
            amount = parse_amount(str(self.amount.value))
            payer, payee = (self.sessions[x] for x in DIRECTIONS[str(self.direction.value)])
            return (
                lambda: payer.transfer(payee.address, amount),
                lambda state: (
                    f"{payer.role} paid {amount:,} to {payee.role}: "
                    f"round {getattr(state, 'round', payer.round)}"
                ),
            )
        if name == "message":
            sender, receiver = (self.sessions[x] for x in DIRECTIONS[str(self.direction.value)])
            text = str(self.message_text.value)
            return (
                lambda: sender.message(receiver.address, text),
                lambda _: f"{sender.role} sent {text!r} to {receiver.role}",
            )
        if name == "disconnect":
            return who.disconnect, lambda _: f"{who.role} closed its socket (its FSM keeps running)"
        if name == "reconnect":
            return who.reconnect, lambda _: f"{who.role} is back on fsm {who.fsm_id}"
        if name == "leave":
            return self._leave, lambda _: f"{who.role} left: both FSMs stopped at round {who.round}"
        if name == "reestablish":
            return self._reestablish, lambda _: f"channel reestablished at round {i.round}"
        if name == "shutdown":
            return who.shutdown, lambda tx: f"closed mutually by {who.role}: {str(tx)[:24]}…"
        if name in ("close_solo", "snapshot", "slash", "settle"):
            act = getattr(who, name)
            return (
                act,
                lambda report: (
                    f"{name.replace('_', ' ')} by {who.role}: on chain "
                    f"{getattr(report, 'info', '?')} ({getattr(report, 'tx_type', '?')})"
                ),
            )
        if name in ("deploy", "call", "dry_run"):
            return self._contract_action(name, who)
        raise KeyError(f"no action {name!r}")

    def _contract_action(self, name: str, who: Session) -> tuple[Any, Any]:
        if name == "deploy":
            other = self.sessions["initiator" if who.role == "responder" else "responder"]
            pot = parse_amount(str(self.amount.value))
            players = [Address.from_api(who.address), Address.from_api(other.address)]

            async def deploy() -> Any:
                made = await who.create_contract(race21_code(), "init", players, deposit=pot)
                self.contract_id = made.contract_id
                return made

            return (
                deploy,
                lambda made: (
                    f"{who.role} deployed the game {made.contract_id[:12]}… (pot {pot:,}) "
                    f"in round {made.round}; {who.role} moves first"
                ),
            )
        contract = self.contract_id
        if contract is None:
            raise InputError("no contract yet: press deploy game")
        function, args = str(self.function.value).strip(), parse_args(str(self.args.value))
        shown = f"{function}({str(self.args.value).strip()})"
        if name == "call":
            return (
                lambda: who.call_contract(contract, function, args),
                lambda call: f"{who.role} called {shown}: {call}" + _verified(call),
            )
        return (
            lambda: who.dry_run(contract, function, args),
            lambda call: f"dry run of {shown} by {who.role}: {call}" + _verified(call),
        )

    def mine(self, blocks: int = 1) -> None:
        """Make ``blocks`` blocks on the embedded node (a lock period passes in blocks)."""
        if self.node is None:
            self.runner.notify("error", "mine", "only an embedded node makes blocks by hand")
        else:
            self.node.mine(blocks)
            self.runner.notify(
                "ok", "mine", f"{blocks} blocks: height {self.node.core.chain.height}"
            )
        self.refresh()

    async def _open(self) -> None:
        i, r = self.sessions["initiator"], self.sessions["responder"]
        if i.channel_id is not None:
            raise ClientError("this pair has opened its channel already")
        if not i.connected:
            await i.connect()
        if not r.connected:
            await r.connect()
        await asyncio.gather(i.open(), r.open())

    async def _leave(self) -> None:
        who = self.sessions[str(self.who.value)]
        other = self.sessions["initiator" if who.role == "responder" else "responder"]
        await who.leave()
        await other.wait_closed()

    async def _reestablish(self) -> None:
        """The responder first (it waits for the initiator), then the initiator."""
        i, r = self.sessions["initiator"], self.sessions["responder"]
        mark = r.mark()
        responder_back = asyncio.ensure_future(r.reestablish())
        try:
            await r.wait_for(lambda e: getattr(e, "event", None) == "fsm_up", since=mark)
        except BaseException:
            responder_back.cancel()
            raise
        await asyncio.gather(responder_back, i.reestablish())

    def decide(self, role: str, approve: bool) -> bool:
        """Approve or reject ``role``'s oldest pending signing request (returns at once)."""
        session = self.sessions[role]
        name = f"{'approve' if approve else 'reject'} ({role})"
        if not session.pending_signatures:
            self.runner.notify("info", name, f"{role} has nothing to sign")
            self.refresh()
            return False
        item = session.pending_signatures[0]
        started = self.runner.start(
            name,
            (lambda: session.approve(item)) if approve else (lambda: session.reject(item)),
            lambda _: f"{role} {'signed' if approve else 'refused'} {item.tag}",
        )
        if started:
            self.approve_buttons[role].disabled = self.reject_buttons[role].disabled = True
        return started

    def _on_signing(self, change: dict[str, Any]) -> None:
        for session in self.sessions.values():
            session.policy = SigningPolicy(mode=str(change["new"]))  # type: ignore[arg-type]
        self.refresh()

    async def idle(self) -> None:
        """Wait for every running action, then redraw (tests and scripts)."""
        await self.runner.idle()
        self.refresh()

    async def close(self) -> None:
        """Close both sessions and stop the embedded node this panel started."""
        await asyncio.gather(*(s.close() for s in self.sessions.values()), return_exceptions=True)
        if self.node is not None:
            with contextlib.suppress(Exception):
                await self.node.stop()

    # -- drawing -------------------------------------------------------------------------
    def _schedule_refresh(self) -> None:
        """Coalesce the many events of one step into one redraw on the sessions' loop."""
        if self._refresh_pending:
            return
        self._refresh_pending = True
        try:
            self.loop.call_soon_threadsafe(self.refresh)
        except RuntimeError:  # the loop is closed: draw now
            self.refresh()

    def refresh(self) -> None:
        """Redraw everything from the sessions' current state."""
        self._refresh_pending = False
        snaps = {role: view.snapshot(s) for role, s in self.sessions.items()}
        names = {snap.address: role for role, snap in snaps.items()}
        where = self.sessions["initiator"].url
        self.title.value = f"<b>chan_nb channel panel</b> · node <code>{where}</code>" + (
            " (embedded)" if self.node is not None else ""
        )
        for role, snap in snaps.items():
            self.cards[role].value = view.role_card(snap, names)
            self.pending[role].value = view.pending_html(snap)
            waiting = bool(snap.pending)
            self.approve_buttons[role].disabled = not waiting
            self.reject_buttons[role].disabled = not waiting
        self.signing_box.layout.display = (
            "flex" if self.signing.value == "manual" or any(s.pending for s in snaps.values())
            else "none"
        )  # fmt: skip
        payer = DIRECTIONS[str(self.direction.value)][0]
        blocked = view.unavailable(snaps, str(self.who.value), payer, self.contract_id)
        for name, button in self.actions.items():
            reason = "running" if self.runner.is_running(name) else blocked.get(name)
            button.disabled = reason is not None
            button.tooltip = reason or ""
        self.notices.value = view.notices_html(self.runner.notices, list(self.runner.running))
        self.mine_button.disabled = self.node is None
        self.chain_line.value = self._chain_view()
        self._draw_frames()

    def _chain_view(self) -> str:
        if self.node is None:
            return "<i>on chain: ask the node (not embedded)</i>"
        chain = self.node.core.chain
        channel_id = self.sessions["initiator"].channel_id
        on_chain = None
        if channel_id is not None:
            on_chain = chain.channel(encoding.decode(channel_id, "ch"))
        return view.chain_html(on_chain, chain.height)

    def _draw_frames(self) -> None:
        frames = self.sessions["initiator"].recorder.frames
        chosen = view.select_frames(
            frames,
            str(self.frame_filter.value),
            str(self.frame_search.value),
            int(self.frame_count.value),
        )
        self.frames.value = view.frames_html(chosen, len(frames))

    # -- notebook integration ------------------------------------------------------------
    def stepper(self) -> ReplayStepper:
        """A replay stepper over this panel's live recording (call ``.refresh()`` on it)."""
        from chan_nb.widgets.stepper import ReplayStepper

        return ReplayStepper(self.sessions["initiator"].recorder.frames)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        i = self.sessions["initiator"]
        return f"<ChannelPanel {i.status.value} round={i.round} channel={i.channel_id}>"


def _verified(call: object) -> str:
    return " — verified by its own VM run" if getattr(call, "verified", False) else ""


def _current_loop() -> asyncio.AbstractEventLoop:
    """The running loop (a notebook cell), else the client's background loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from chan_nb.client.sync import background_loop

        return background_loop()
