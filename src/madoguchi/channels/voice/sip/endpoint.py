"""The SIP transport and transaction layer: UDP in and out, strict parsing, transaction matching
(§17.1.3, §17.2.3), and dispatch of new requests and stray responses to the transaction user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from madoguchi.channels.voice.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse,
    response_to,
)
from madoguchi.channels.voice.sip.transaction import (
    Address,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    Timers,
    _Transaction,
)

logger = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"
ServerTx = ServerInviteTransaction | ServerNonInviteTransaction
ClientTx = ClientInviteTransaction | ClientNonInviteTransaction


class TransactionUser(Protocol):
    def on_request(self, tx: ServerTx, request: SipRequest, source: Address) -> None:
        """A new request (not ACK, not CANCEL) in its own server transaction; the TU must respond."""

    def on_ack(self, request: SipRequest, source: Address) -> None:
        """An ACK for a 2xx (it has no transaction of its own, §17.1.1.3)."""

    def on_cancel(self, invite_tx: ServerInviteTransaction) -> None:
        """A CANCEL matched a pending INVITE; the endpoint already answered the CANCEL with 200."""

    def on_stray_response(self, response: SipResponse, source: Address) -> None:
        """A response no transaction claims: a retransmitted 2xx to INVITE (§13.2.2.4)."""


class SipEndpoint(asyncio.DatagramProtocol):
    def __init__(self, *, host: str, port: int, timers: Timers) -> None:
        self.host = host
        self.port = port
        self.timers = timers
        self.tu: TransactionUser | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self._server: dict[tuple[str, str, str], ServerTx] = {}
        self._client: dict[tuple[str, str], ClientTx] = {}
        self.dropped = 0  # malformed datagrams we could not answer

    # -- lifecycle --
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        for tx in [*self._server.values(), *self._client.values()]:
            tx.terminate()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def send(self, data: bytes, address: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, address)

    # -- incoming --
    def datagram_received(self, data: bytes, addr: Address) -> None:
        if data in (b"\r\n\r\n", b"\r\n"):  # RFC 5626 §4.4.1 keep-alive
            return
        try:
            message = parse(data)
        except SipParseError as error:
            if error.request is not None and error.request.method != "ACK":
                self.send(response_to(error.request, 400, "Bad Request").to_bytes(), self._reply_to(error.request,
                                                                                                    addr))
            else:
                self.dropped += 1
            logger.info("malformed SIP from %s:%s: %s", addr[0], addr[1], error)
            return
        try:
            if isinstance(message, SipRequest):
                self._on_request(message, addr)
            else:
                self._on_response(message, addr)
        except Exception:  # one bad message must not take the listener down
            logger.exception("SIP message from %s:%s failed", addr[0], addr[1])

    def error_received(self, exc: Exception) -> None:
        logger.debug("SIP socket error: %s", exc)

    def _reply_to(self, request: SipRequest, source: Address) -> Address:
        """§18.2.2 with RFC 3581 rport: answer where the request came from."""
        return source

    @staticmethod
    def _server_key(request: SipRequest, method: str) -> tuple[str, str, str]:
        via = request.top_via
        return (via.branch, f"{via.host}:{via.port or 5060}", method)

    def _on_request(self, request: SipRequest, source: Address) -> None:
        tu = self.tu
        if tu is None:
            return
        if request.method == "ACK":
            tx = self._server.get(self._server_key(request, "INVITE"))
            if isinstance(tx, ServerInviteTransaction) and tx.last_response is not None \
                    and tx.last_response.status >= 300:
                tx.on_ack()
            else:
                tu.on_ack(request, source)
            return
        key = self._server_key(request, request.method)
        existing = self._server.get(key)
        if existing is not None:
            existing.on_retransmission()
            return
        peer = self._reply_to(request, source)
        if request.method == "CANCEL":
            cancel_tx = self._new_server(request, peer, key)
            invite_tx = self._server.get(self._server_key(request, "INVITE"))
            pending = isinstance(invite_tx, ServerInviteTransaction) and (
                invite_tx.last_response is None or invite_tx.last_response.status < 200)
            if pending and isinstance(invite_tx, ServerInviteTransaction):
                cancel_tx.respond(response_to(request, 200, "OK"))
                tu.on_cancel(invite_tx)
            else:
                cancel_tx.respond(response_to(request, 481, "Call/Transaction Does Not Exist"))
            return
        tx = self._new_server(request, peer, key)
        if request.method == "INVITE":
            tx.respond(response_to(request, 100, "Trying"))  # §17.2.1: at once, we may take longer than 200 ms
        tu.on_request(tx, request, source)

    def _new_server(self, request: SipRequest, peer: Address, key: tuple[str, str, str]) -> ServerTx:
        def forget(t: _Transaction) -> None:
            self._server.pop(key, None)

        tx: ServerTx
        if request.method == "INVITE":
            tx = ServerInviteTransaction(request, peer, send=self.send, timers=self.timers, on_terminated=forget)
        else:
            tx = ServerNonInviteTransaction(request, peer, send=self.send, timers=self.timers, on_terminated=forget)
        self._server[key] = tx
        return tx

    def _on_response(self, response: SipResponse, source: Address) -> None:
        try:
            branch = response.top_via.branch
        except SipParseError:
            return
        tx = self._client.get((branch, response.cseq[1]))
        if tx is not None:
            tx.on_response(response)
        elif self.tu is not None:
            self.tu.on_stray_response(response, source)

    # -- outgoing --
    def request(self, request: SipRequest, peer: Address, *, on_response: Callable[[SipResponse], None],
                on_timeout: Callable[[], None]) -> ClientTx:
        """Send ``request`` in a new client transaction (ACK for 2xx goes through ``send`` instead)."""
        key = (request.top_via.branch, request.method)

        def forget(t: _Transaction) -> None:
            self._client.pop(key, None)

        tx: ClientTx
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, peer, send=self.send, timers=self.timers, on_response=on_response,
                                         on_timeout=on_timeout, on_terminated=forget)
        else:
            tx = ClientNonInviteTransaction(request, peer, send=self.send, timers=self.timers,
                                            on_response=on_response, on_timeout=on_timeout, on_terminated=forget)
        self._client[key] = tx
        tx.start()
        return tx

    @property
    def transactions(self) -> int:
        return len(self._server) + len(self._client)
