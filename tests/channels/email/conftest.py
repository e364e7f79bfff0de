from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.email.support import SmtpSink
from tests.conftest import ServerFactory
from tests.support import RunningServer


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    running = await SmtpSink().start()
    yield running
    await running.stop()


@pytest.fixture
async def server(make_server: ServerFactory, sink: SmtpSink) -> RunningServer:
    """The app with its SMTP listener on a free port and the sink as its relay (``clients`` talk to it)."""
    return await make_server(smtp_port=0, smtp_relay_host="127.0.0.1", smtp_relay_port=sink.port,
                             email_retry_base_s=0.2)


@pytest.fixture
def mail_server(server: RunningServer) -> RunningServer:
    return server
