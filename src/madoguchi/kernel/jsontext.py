"""JSON text for the hot paths: WebSocket frames and the JSON columns.

orjson writes the same JSON as ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` for
what this application sends (str keys, str/int/float/bool/None, lists, dicts), faster; at full
chat load the standard library's encoding was a tenth of the server's main-thread CPU (py-spy). Integer keys are written
as strings, as the standard library does. Anything orjson refuses (a str with a lone surrogate,
an integer beyond 64 bits) goes through the standard library, so no value that encoded before
fails now."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
