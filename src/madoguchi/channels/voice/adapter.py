"""The voice channel as the registry sees it: the SIP listener, the media engine and the service
that turns calls into contacts. Built by app.py; nothing binds a socket until ``start``."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from madoguchi.bus.base import EventBus
from madoguchi.channels.base import Capabilities
from madoguchi.channels.voice.media import MediaEngine, parse_networks, parse_port_range
from madoguchi.channels.voice.prompts import Prompts, TtsPrompts
from madoguchi.channels.voice.service import VOICE, VoiceService
from madoguchi.channels.voice.sip.digest import DigestAuth
from madoguchi.channels.voice.sip.endpoint import SipEndpoint
from madoguchi.channels.voice.sip.registrar import Registrar
from madoguchi.channels.voice.sip.transaction import LoopTimers
from madoguchi.channels.voice.sip_telephony import SipTelephony
from madoguchi.db.uow import Database
from madoguchi.kernel.errors import InvalidInput
from madoguchi.settings import Settings

logger = logging.getLogger(__name__)

Text = str | dict[Literal["ja", "en"], str]


class VoiceSettings(BaseModel):
    """An entry point of kind voice: the URI or number it answers, its IVR, recording."""

    model_config = ConfigDict(extra="allow")

    uri: str | None = Field(default=None, pattern=r"^sips?:[A-Za-z0-9._+\-]+@[^\s;]+$")
    number: str | None = Field(default=None, pattern=r"^\+?[0-9]{2,20}$")
    language: Literal["ja", "en"] = "ja"
    greeting: Text | None = None
    menu_prompt: Text | None = None
    menu: dict[str, str] | None = None  # digit → queue name ("" : the entry point's queue)
    record: bool = True
    record_queues: dict[str, bool] | None = None  # queue name → record calls answered from it
    # Callbacks (docs/voice.md): the key a waiting caller presses to be called back, keeping the
    # place in line ("" : no callbacks); when to tell waiting callers about it (0: never); how long
    # a message they may leave with it (0: none).
    callback_key: str = Field(default="*", pattern=r"^[0-9*#]?$")
    callback_offer_after_s: int = Field(default=30, ge=0, le=3600)
    voicemail_s: int = Field(default=60, ge=0, le=600)
    # Waiting callers hear their place in line and the estimated wait when it is first known and
    # then every so many seconds if it changed (0: never).
    announce_position_every_s: int = Field(default=60, ge=0, le=3600)

    @model_validator(mode="after")
    def _reachable(self) -> VoiceSettings:
        if not self.uri and not self.number:
            raise ValueError("a voice entry point needs a uri or a number")
        if self.menu and any(len(k) != 1 or k not in "0123456789*#" for k in self.menu):
            raise ValueError("menu keys are single keypad digits")
        return self


def _address(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    return host, int(port)


class VoiceChannel:
    kind = VOICE
    capabilities = Capabilities(realtime=True, typing=False, rich_text=False, attachments=False)

    def __init__(self, db: Database, bus: EventBus, settings: Settings, *, prompts: Prompts | None = None) -> None:
        self.settings = settings
        self.enabled = settings.sip_port is not None
        self.media = MediaEngine(host=settings.sip_host, ports=parse_port_range(settings.rtp_ports),
                                 allowed_networks=parse_networks(settings.rtp_allowed_networks))
        self.endpoint = SipEndpoint(host=settings.sip_host, port=settings.sip_port or 0, timers=LoopTimers())
        self.registrar = Registrar()
        self.telephony = SipTelephony(endpoint=self.endpoint, media=self.media,
                                      auth=DigestAuth(settings.sip_realm, secrets.token_bytes(32)),
                                      registrar=self.registrar, credentials=self._credentials,
                                      outbound=_address(settings.sip_outbound))
        recordings = Path(settings.voice_recordings_dir) if settings.voice_recordings_dir else None
        prompts_dir = Path(settings.voice_prompts_dir) if settings.voice_prompts_dir else None
        self.service = VoiceService(db, bus, self.telephony, prompts or TtsPrompts(prompts_dir),
                                    realm=settings.sip_realm, timezone=settings.timezone, recordings_dir=recordings)

    def _credentials(self, username: str) -> str | None:
        return self.service.credentials(username)

    @staticmethod
    def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        try:
            checked = VoiceSettings.model_validate(settings)
        except ValidationError as exc:
            raise InvalidInput(f"voice entry point settings: {exc}", field="settings") from None
        return {**settings, **checked.model_dump(exclude_none=True)}

    async def start(self) -> None:
        if not self.enabled:
            return
        await self.telephony.start()
        await self.service.start()
        logger.info("SIP listening on %s:%s (UDP), RTP %s", self.endpoint.host, self.endpoint.port,
                    self.settings.rtp_ports)

    async def stop(self) -> None:
        if not self.enabled:
            return
        await self.service.stop()
        await self.telephony.stop()
