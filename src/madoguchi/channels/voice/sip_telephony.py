"""``Telephony`` over SIP and RTP: the B2BUA's dialogs (RFC 3261 §12–15) and their media.

Inbound legs are calls from customers; outbound legs ring registered agent phones. Each leg is
one dialog and one ``RtpLeg``; bridging two legs relays their RTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from madoguchi.channels.voice.audio import Prompt, music_on_hold
from madoguchi.channels.voice.media import MediaEngine, NoMediaPort, RtpLeg
from madoguchi.channels.voice.recording import Recorder
from madoguchi.channels.voice.sdp import (
    DEFAULT_DTMF_PT,
    MediaChoice,
    SdpError,
    accept_answer,
    build_sdp,
    negotiate,
    offer_formats,
    parse_sdp,
)
from madoguchi.channels.voice.sip.digest import DigestAuth
from madoguchi.channels.voice.sip.endpoint import ALLOW, ServerTx, SipEndpoint
from madoguchi.channels.voice.sip.message import (
    Headers,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    Uri,
    new_branch,
    new_call_id,
    new_tag,
    response_to,
    split_commas,
)
from madoguchi.channels.voice.sip.registrar import Registrar
from madoguchi.channels.voice.sip.transaction import T1, T2, Address, ServerInviteTransaction, TimerHandle
from madoguchi.channels.voice.telephony import CallFailed, IncomingHandler, Leg, LegEventHandler, LegState, move

logger = logging.getLogger(__name__)

_FAILURE_REASON = {486: "busy", 600: "busy", 603: "rejected", 480: "no_answer", 408: "no_answer", 487: "cancelled",
                   404: "unreachable"}
_REJECT_STATUS = {"not_found": (404, "Not Found"), "busy": (486, "Busy Here"), "rejected": (603, "Decline"),
                  "unavailable": (480, "Temporarily Unavailable"), "failed": (500, "Server Internal Error")}


class SipLeg:
    def __init__(self, tel: SipTelephony, *, inbound: bool, call_id: str, local_tag: str, local_header: str,
                 remote_header: str, remote_target: str, peer: Address, rtp: RtpLeg, caller: str,
                 callee: str) -> None:
        self.tel = tel
        self.inbound = inbound
        self.call_id = call_id
        self.local_tag = local_tag
        self.local_header = local_header
        self.remote_header = remote_header
        self.remote_target = remote_target
        self.peer = peer
        self.rtp = rtp
        self.caller = caller
        self.callee = callee
        self.leg_id = f"{call_id}/{local_tag}"
        self.state = LegState.RINGING
        self.end_reason: str | None = None
        self.local_cseq = secrets.randbelow(10_000) + 1
        self.sdp_version = 1
        self.invite_tx: ServerInviteTransaction | None = None
        self.bridged: SipLeg | None = None
        self.remote_held = False
        self.local_held = False   # we put the far end on hold (hold())
        self.reinvites_answered = 0
        self._digits: asyncio.Queue[str] = asyncio.Queue()
        self._digit_seen = asyncio.Event()
        self._ended = asyncio.Event()
        self._handlers: list[LegEventHandler] = []
        self._unacked: tuple[bytes, TimerHandle] | None = None
        self._recorder: Recorder | None = None
        rtp.on_digit = self._on_digit

    # -- Leg --
    async def answer(self) -> None:
        if self.state is not LegState.RINGING or self.invite_tx is None:
            return
        self.state = move(self.state, "answer")
        response = response_to(self.invite_tx.request, 200, "OK", to_tag=self.local_tag,
                               body=self._sdp().encode(), extra=self._contact_headers(sdp=True))
        self.invite_tx.respond(response)
        self._send_2xx_until_ack(response.to_bytes())

    async def play(self, prompt: Prompt, *, barge_in: bool = False) -> None:
        if self.state is LegState.ENDED:
            return
        self._digit_seen.clear()
        done = self.rtp.play(prompt)
        waits: list[asyncio.Future[object]] = [done, asyncio.ensure_future(self._ended.wait())]  # type: ignore[list-item]
        if barge_in:
            if not self._digits.empty():
                self.rtp.stop_playback()
                return
            waits.append(asyncio.ensure_future(self._digit_seen.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits[1:]:
                w.cancel()
            if not done.done():
                self.rtp.stop_playback()

    def start_music(self, prompt: Prompt) -> None:
        if self.state is not LegState.ENDED:
            self.rtp.play(prompt, loop=True)

    def stop_music(self) -> None:
        self.rtp.stop_playback()

    async def collect_digits(self, *, max_digits: int, timeout_s: float, terminator: str = "#") -> str:
        digits = ""
        while len(digits) < max_digits and self.state is not LegState.ENDED:
            try:
                digit = await asyncio.wait_for(self._digits.get(), timeout_s)
            except TimeoutError:
                break
            if digit == terminator:
                break
            digits += digit
        return digits

    def on_event(self, handler: LegEventHandler) -> None:
        self._handlers.append(handler)

    async def hold(self) -> None:
        if self.state is LegState.ANSWERED and not self.remote_held:
            self.state = move(self.state, "hold")
            self.local_held = True
            self.tel._reoffer(self, "sendonly")

    async def resume(self) -> None:
        if self.state is LegState.HELD and self.local_held:
            self.state = move(self.state, "resume")
            self.local_held = False
            self.tel._reoffer(self, "sendrecv")

    def start_recording(self, path: Path) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self._recorder = Recorder(path)
        self.rtp.on_audio = self._recorder.feed

    def pause_recording(self, paused: bool) -> None:
        if self._recorder is not None:
            self._recorder.paused = paused

    @property
    def recording(self) -> Path | None:
        return self._recorder.path if self._recorder is not None else None

    async def hangup(self, reason: str = "hangup") -> None:
        if self.state is LegState.ENDED:
            return
        if self.state is LegState.RINGING:
            if self.inbound and self.invite_tx is not None:
                status, text = _REJECT_STATUS.get(reason, (480, "Temporarily Unavailable"))
                self.invite_tx.respond(response_to(self.invite_tx.request, status, text, to_tag=self.local_tag))
            elif not self.inbound:
                self.tel._cancel(self)
        else:
            self.tel._in_dialog(self, "BYE")
        self._end(reason)

    async def wait_ended(self) -> str:
        await self._ended.wait()
        return self.end_reason or "hangup"

    # -- internals --
    def _on_digit(self, digit: str) -> None:
        self._digits.put_nowait(digit)
        self._digit_seen.set()

    def _emit(self, event: str) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                logger.exception("leg event handler failed")

    def _sdp(self, direction: str | None = None) -> str:
        choice = self.rtp.choice
        formats = [(choice.codec_pt, choice.codec)] if choice else offer_formats()
        dtmf = choice.dtmf_pt if choice else DEFAULT_DTMF_PT
        direction = direction or (choice.direction if choice else "sendrecv")
        return build_sdp(address=self.tel.media.host, port=self.rtp.local_port, session_id=hash(self.leg_id) & 0xFFFFFF,
                         version=self.sdp_version, formats=formats, dtmf_pt=dtmf, direction=direction)

    def _contact_headers(self, *, sdp: bool) -> list[tuple[str, str]]:
        headers = [("contact", f"<sip:madoguchi@{self.tel.host}:{self.tel.port}>"), ("allow", ALLOW)]
        if sdp:
            headers.append(("content-type", "application/sdp"))
        return headers

    def _send_2xx_until_ack(self, data: bytes, interval: float = T1, waited: float = 0.0) -> None:
        """§13.3.1.4: the UAS core retransmits 2xx (T1 doubling to T2) until the ACK, for 64·T1."""
        if waited >= 64 * T1:
            self._unacked = None
            logger.info("no ACK for 200 OK on %s; hanging up", self.call_id)
            self.tel._in_dialog(self, "BYE")
            self._end("timeout")
            return

        def fire() -> None:
            if self.state is not LegState.ENDED:
                self.tel.endpoint.send(data, self.peer)
                self._send_2xx_until_ack(data, min(2 * interval, T2), waited + interval)

        self._unacked = (data, self.tel.endpoint.timers.call_later(interval, fire))

    def _acked(self) -> None:
        if self._unacked is not None:
            self._unacked[1].cancel()
            self._unacked = None

    def _set_remote_hold(self, held: bool) -> None:
        if held == self.remote_held:
            return
        self.remote_held = held
        if self.state in (LegState.ANSWERED, LegState.HELD):
            self.state = move(self.state, "hold" if held else "resume")
        other = self.bridged
        if other is not None:  # the far party hears music while this phone holds
            if held:
                other.start_music(self.tel.hold_music)
            else:
                other.stop_music()
        self._emit("held" if held else "resumed")

    def _end(self, reason: str) -> None:
        if self.state is LegState.ENDED:
            return
        self.state = LegState.ENDED
        self.end_reason = reason
        self._acked()
        self.tel.unbridge(self)
        self.rtp.close()
        if self._recorder is not None:
            self._recorder.close()
        self.tel._forget(self)
        self._ended.set()
        self._emit("ended")


class SipTelephony:
    def __init__(self, *, endpoint: SipEndpoint, media: MediaEngine, auth: DigestAuth, registrar: Registrar,
                 credentials: Callable[[str], str | None], outbound: Address | None = None) -> None:
        self.endpoint = endpoint
        self.outbound = outbound  # the SIP trunk for calls to customers
        self.media = media
        self.auth = auth
        self.registrar = registrar
        self.credentials = credentials  # SIP user name → digest HA1
        self.hold_music = music_on_hold()
        self._handler: IncomingHandler | None = None
        self._legs: dict[tuple[str, str], SipLeg] = {}         # (Call-ID, our tag)
        self._inbound: dict[tuple[str, str], SipLeg] = {}      # (Call-ID, their From tag)
        self._by_branch: dict[str, SipLeg] = {}                # INVITE branch → inbound leg
        self._tasks: set[asyncio.Task[None]] = set()
        endpoint.tu = self

    @property
    def host(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port

    async def start(self) -> None:
        await self.endpoint.start()
        self.media.start()

    async def stop(self) -> None:
        for leg in list(self._legs.values()):
            await leg.hangup("unavailable")
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.stop()
        await self.media.stop()

    @property
    def legs(self) -> list[SipLeg]:
        return list(self._legs.values())

    # -- Telephony --
    def on_incoming(self, handler: IncomingHandler) -> None:
        self._handler = handler

    def is_registered(self, aor: str) -> bool:
        return self.registrar.lookup(aor) is not None

    def bridge(self, a: Leg, b: Leg) -> None:
        a, b = _sip(a), _sip(b)
        self.unbridge(a)
        self.unbridge(b)
        a.stop_music()
        b.stop_music()
        a.bridged, b.bridged = b, a
        a.rtp.peer, b.rtp.peer = b.rtp, a.rtp

    def conference(self, legs: list[Leg]) -> None:
        sip_legs = [_sip(leg) for leg in legs]
        for leg in sip_legs:
            self.unbridge(leg)
            leg.stop_music()
        self.media.conference([leg.rtp for leg in sip_legs])

    def unbridge(self, leg: Leg) -> None:
        leg = _sip(leg)
        self.media.leave_conference(leg.rtp)
        other = leg.bridged
        leg.bridged = None
        leg.rtp.peer = None
        if other is not None:
            other.bridged = None
            other.rtp.peer = None

    async def offer_call(self, *, aor: str, caller: str, caller_name: str | None, timeout_s: float) -> SipLeg:
        binding = self.registrar.lookup(aor)
        if binding is None:
            raise CallFailed("unreachable")
        return await self._call(target=binding.contact, address=binding.address, to=f"<sip:{aor}@{self.host}>",
                                caller=caller, caller_name=caller_name, callee=aor, timeout_s=timeout_s)

    async def dial(self, *, number: str, caller: str, timeout_s: float) -> SipLeg:
        if self.outbound is None:
            raise CallFailed("no_route")
        host, port = self.outbound
        uri = f"sip:{number}@{host}:{port}"
        return await self._call(target=uri, address=self.outbound, to=f"<{uri}>", caller=caller, caller_name=None,
                                callee=number, timeout_s=timeout_s)

    async def _call(self, *, target: str, address: Address, to: str, caller: str, caller_name: str | None,
                    callee: str, timeout_s: float) -> SipLeg:
        try:
            rtp = await self.media.open_leg()
        except NoMediaPort:
            raise CallFailed("failed") from None
        display = (caller_name or caller).replace('"', "")
        local_tag = new_tag()
        leg = SipLeg(self, inbound=False, call_id=new_call_id(self.host), local_tag=local_tag,
                     local_header=f'"{display}" <sip:{caller}@{self.host}>;tag={local_tag}',
                     remote_header=to, remote_target=target, peer=address,
                     rtp=rtp, caller=caller, callee=callee)
        self._legs[(leg.call_id, local_tag)] = leg
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        invite = self._request(leg, "INVITE", body=leg._sdp().encode())
        leg.invite_request = invite  # type: ignore[attr-defined]

        def on_response(response: SipResponse) -> None:
            self._invite_response(leg, invite, response, answered)

        def on_timeout() -> None:
            leg._end("unreachable")
            if not answered.done():
                answered.set_exception(CallFailed("unreachable"))

        self.endpoint.request(invite, leg.peer, on_response=on_response, on_timeout=on_timeout)
        try:
            await asyncio.wait_for(asyncio.shield(answered), timeout_s)
        except TimeoutError:
            await leg.hangup("no_answer")
            raise CallFailed("no_answer") from None
        except asyncio.CancelledError:
            await leg.hangup("cancelled")
            raise
        return leg

    # -- outbound dialog --
    def _invite_response(self, leg: SipLeg, invite: SipRequest, response: SipResponse,
                         answered: asyncio.Future[None]) -> None:
        tag = response.to.tag
        if response.status < 200:
            if response.status > 100:
                leg._emit("ringing")
            return
        if response.status >= 300:
            reason = _FAILURE_REASON.get(response.status, "failed")
            leg._end(reason)
            if not answered.done():
                answered.set_exception(CallFailed(reason))
            return
        leg.remote_header = response.headers.get("to") or leg.remote_header
        contacts = split_commas(response.headers.get_all("contact"))
        if contacts:
            leg.remote_target = NameAddr.parse(contacts[0]).uri
        if tag:
            self._legs[(leg.call_id, leg.local_tag)] = leg
        self._send_ack(leg, invite.cseq[0])
        if leg.state is LegState.ENDED:  # §9.1: a 200 that crossed our CANCEL: ACK, then BYE
            self._in_dialog(leg, "BYE")
            return
        try:
            leg.rtp.connect(accept_answer(parse_sdp(response.body.decode("utf-8", "replace"))))
        except SdpError as error:
            logger.info("agent phone answered with unusable SDP: %s", error)
            self._in_dialog(leg, "BYE")
            leg._end("failed")
            if not answered.done():
                answered.set_exception(CallFailed("failed"))
            return
        leg.state = move(leg.state, "answer")
        if not answered.done():
            answered.set_result(None)

    def _send_ack(self, leg: SipLeg, cseq: int) -> None:
        ack = self._request(leg, "ACK", cseq=cseq)
        self.endpoint.send(ack.to_bytes(), leg.peer)

    def _cancel(self, leg: SipLeg) -> None:
        """§9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE."""
        invite: SipRequest | None = getattr(leg, "invite_request", None)
        if invite is None:
            return
        headers = Headers()
        for name in ("via", "from", "to", "call-id"):
            headers.add(name, invite.headers.get(name) or "")
        headers.add("cseq", f"{invite.cseq[0]} CANCEL")
        headers.add("max-forwards", "70")
        cancel = SipRequest(headers=headers, body=b"", method="CANCEL", uri=invite.uri)
        self.endpoint.request(cancel, leg.peer, on_response=lambda r: None, on_timeout=lambda: None)

    def _reoffer(self, leg: SipLeg, direction: str) -> None:
        """A re-INVITE (RFC 3261 §14.1) offering the same media with ``direction``; its 2xx is ACKed
        here (the ACK for a 2xx is the UA core's, §13.2.2.4). A failed re-INVITE leaves the call as
        it was (§14.1): only the hold state we keep changes."""
        leg.sdp_version += 1
        leg.local_cseq += 1
        invite = self._request(leg, "INVITE", body=leg._sdp(direction).encode())

        def on_response(response: SipResponse) -> None:
            if 200 <= response.status < 300:
                self._send_ack(leg, invite.cseq[0])
                leg.reinvites_answered += 1
            elif response.status >= 300:
                logger.info("re-INVITE (%s) on %s answered %s", direction, leg.call_id, response.status)

        self.endpoint.request(invite, leg.peer, on_response=on_response, on_timeout=lambda: None)

    def _in_dialog(self, leg: SipLeg, method: str, body: bytes = b"") -> None:
        leg.local_cseq += 1
        request = self._request(leg, method, body=body)
        self.endpoint.request(request, leg.peer, on_response=lambda r: None, on_timeout=lambda: None)

    def _request(self, leg: SipLeg, method: str, *, body: bytes = b"", cseq: int | None = None) -> SipRequest:
        headers = Headers()
        headers.add("via", f"SIP/2.0/UDP {self.host}:{self.port};branch={new_branch()};rport")
        headers.add("max-forwards", "70")
        headers.add("from", leg.local_header)
        headers.add("to", leg.remote_header)
        headers.add("call-id", leg.call_id)
        headers.add("cseq", f"{cseq if cseq is not None else leg.local_cseq} {method}")
        if method == "INVITE":
            for name, value in leg._contact_headers(sdp=bool(body)):
                headers.add(name, value)
        headers.add("user-agent", "madoguchi")
        return SipRequest(headers=headers, body=body, method=method, uri=leg.remote_target)

    # -- TransactionUser --
    def on_request(self, tx: ServerTx, request: SipRequest, source: Address) -> None:
        to_tag = request.to.tag
        leg = self._legs.get((request.call_id, to_tag)) if to_tag else None
        if request.method == "INVITE" and not to_tag:
            existing = self._inbound.get((request.call_id, request.from_.tag or ""))
            if existing is not None:  # a retransmitted INVITE after our 2xx ended its transaction
                if existing._unacked is not None:
                    self.endpoint.send(existing._unacked[0], source)
                tx.terminate()
                return
            self._spawn(self._new_call(tx, request, source))
        elif request.method == "INVITE":
            if leg is None:
                tx.respond(response_to(request, 481, "Call/Transaction Does Not Exist"))
            else:
                self._reinvite(leg, tx, request)
        elif request.method == "BYE":
            if leg is None:
                tx.respond(response_to(request, 481, "Call/Transaction Does Not Exist"))
            else:
                tx.respond(response_to(request, 200, "OK"))
                leg._end("hangup")
        elif request.method == "OPTIONS":
            tx.respond(response_to(request, 200, "OK", to_tag=None if to_tag else new_tag(),
                                   extra=[("allow", ALLOW), ("accept", "application/sdp")]))
        elif request.method == "REGISTER":
            self._register(tx, request, source)
        else:
            tx.respond(response_to(request, 405, "Method Not Allowed", extra=[("allow", ALLOW)]))

    def on_ack(self, request: SipRequest, source: Address) -> None:
        leg = self._legs.get((request.call_id, request.to.tag or ""))
        if leg is not None:
            leg._acked()

    def on_cancel(self, invite_tx: ServerInviteTransaction) -> None:
        leg = self._by_branch.get(invite_tx.branch)
        invite_tx.respond(response_to(invite_tx.request, 487, "Request Terminated",
                                      to_tag=leg.local_tag if leg else new_tag()))
        if leg is not None:
            leg._end("cancelled")

    def on_stray_response(self, response: SipResponse, source: Address) -> None:
        if response.cseq[1] == "INVITE" and 200 <= response.status < 300:
            for leg in self._legs.values():
                if leg.call_id == response.call_id and not leg.inbound:
                    self._send_ack(leg, response.cseq[0])  # our ACK was lost (§13.2.2.4)
                    return

    # -- inbound dialog --
    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _new_call(self, tx: ServerTx, request: SipRequest, source: Address) -> None:
        assert isinstance(tx, ServerInviteTransaction)
        from_tag = request.from_.tag
        if not from_tag:
            tx.respond(response_to(request, 400, "Bad Request (From tag)"))
            return
        try:
            choice = negotiate(parse_sdp(request.body.decode("utf-8", "replace")))
        except SdpError as error:
            tx.respond(response_to(request, 488, f"Not Acceptable Here ({error})"[:120]))
            return
        if not self.media.allowed(choice.remote_address) or not self.media.allowed(source[0]):
            tx.respond(response_to(request, 488, "Not Acceptable Here (media address)"))
            return
        try:
            rtp = await self.media.open_leg()
        except NoMediaPort:
            tx.respond(response_to(request, 503, "Service Unavailable", extra=[("retry-after", "5")]))
            return
        rtp.connect(choice)
        contacts = split_commas(request.headers.get_all("contact"))
        target = NameAddr.parse(contacts[0]).uri if contacts else request.from_.uri
        local_tag = new_tag()
        caller = _user(request.from_.uri) or "anonymous"
        callee = _user(request.uri) or ""
        leg = SipLeg(self, inbound=True, call_id=request.call_id, local_tag=local_tag,
                     local_header=f"{request.headers.get('to')};tag={local_tag}",
                     remote_header=request.headers.get("from") or "", remote_target=target, peer=source, rtp=rtp,
                     caller=caller, callee=callee)
        leg.invite_tx = tx
        self._legs[(leg.call_id, local_tag)] = leg
        self._inbound[(leg.call_id, from_tag)] = leg
        self._by_branch[tx.branch] = leg
        tx.respond(response_to(request, 180, "Ringing", to_tag=local_tag))
        if self._handler is None:
            await leg.hangup("unavailable")
            return
        try:
            await self._handler(leg)
        except Exception:
            logger.exception("call %s failed", leg.call_id)
            await leg.hangup("failed")

    def _reinvite(self, leg: SipLeg, tx: ServerTx, request: SipRequest) -> None:
        """§14.2: a re-INVITE from the far end; sendonly/inactive means it holds us."""
        try:
            offer = parse_sdp(request.body.decode("utf-8", "replace")) if request.body else None
            choice = negotiate(offer) if offer is not None else leg.rtp.choice
        except SdpError as error:
            tx.respond(response_to(request, 488, f"Not Acceptable Here ({error})"[:120]))
            return
        if choice is None or not self.media.allowed(choice.remote_address):
            tx.respond(response_to(request, 488, "Not Acceptable Here (media address)"))
            return
        current = leg.rtp.choice
        if current is not None:  # keep our codec; take the new address and direction
            choice = MediaChoice(current.codec_pt, current.codec, current.dtmf_pt, choice.remote_address,
                                 choice.remote_port, choice.direction)
        leg.rtp.connect(choice)
        leg.sdp_version += 1
        response = response_to(request, 200, "OK", to_tag=leg.local_tag, body=leg._sdp().encode(),
                               extra=leg._contact_headers(sdp=True))
        tx.respond(response)
        leg._send_2xx_until_ack(response.to_bytes())
        leg._set_remote_hold(choice.direction in ("recvonly", "inactive"))

    def _register(self, tx: ServerTx, request: SipRequest, source: Address) -> None:
        verdict = self.auth.verify(request.headers.get("authorization"), "REGISTER", self.credentials)
        if verdict.username is None:
            tx.respond(response_to(request, 401, "Unauthorized", to_tag=new_tag(),
                                   extra=[("www-authenticate", self.auth.challenge(stale=verdict.stale))]))
            return
        aor = _user(request.to.uri)
        if aor != verdict.username:
            tx.respond(response_to(request, 403, "Forbidden", to_tag=new_tag()))
            return
        contacts = split_commas(request.headers.get_all("contact"))
        expires_header = request.headers.get("expires")
        extra: list[tuple[str, str]] = []
        for value in contacts:
            if value.strip() == "*":
                self.registrar.register(aor, "", source, 0)
                continue
            contact = NameAddr.parse(value)
            wanted = contact.params.get("expires") or expires_header or "3600"
            try:
                uri = Uri.parse(contact.uri)
                seconds = int(wanted)
            except (SipParseError, ValueError):
                tx.respond(response_to(request, 400, "Bad Request (Contact)", to_tag=new_tag()))
                return
            granted = self.registrar.register(aor, contact.uri, (uri.host, uri.port or 5060), seconds)
            if granted:
                extra.append(("contact", f"<{contact.uri}>;expires={granted}"))
        tx.respond(response_to(request, 200, "OK", to_tag=new_tag(), extra=extra))

    def _forget(self, leg: SipLeg) -> None:
        self._legs.pop((leg.call_id, leg.local_tag), None)
        with contextlib.suppress(SipParseError):
            tag = NameAddr.parse(leg.remote_header).tag
            if tag:
                self._inbound.pop((leg.call_id, tag), None)
        if leg.invite_tx is not None:
            self._by_branch.pop(leg.invite_tx.branch, None)


def _sip(leg: Leg) -> SipLeg:
    if not isinstance(leg, SipLeg):
        raise TypeError("SipTelephony bridges its own legs only")
    return leg


def _user(uri: str) -> str | None:
    try:
        return Uri.parse(uri).user
    except SipParseError:
        return None
