"""The voice channel: a SIP B2BUA and RTP media engine on asyncio (docs/voice.md)."""
