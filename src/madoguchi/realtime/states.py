"""A WebSocket client's lifecycle: connected → ready (after hello and replay) → closed."""

from __future__ import annotations

from enum import StrEnum

from madoguchi.kernel.errors import IllegalTransition


class ClientState(StrEnum):
    CONNECTED = "connected"
    READY = "ready"
    CLOSED = "closed"


_ALLOWED = {
    (ClientState.CONNECTED, ClientState.READY),
    (ClientState.CONNECTED, ClientState.CLOSED),
    (ClientState.READY, ClientState.CLOSED),
}


def move(state: ClientState, to: ClientState) -> ClientState:
    if (state, to) not in _ALLOWED:
        raise IllegalTransition("websocket client", state.value, to.value)
    return to
