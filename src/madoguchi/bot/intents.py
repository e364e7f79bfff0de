"""Does the customer ask for a person? Japanese and English, on normalised text."""

from __future__ import annotations

import re
import unicodedata

_JA_PERSON = re.compile(r"オペレータ|担当者|担当の方|人間|有人|スタッフ|係の(人|方)|人と|窓口の(人|方)"
                        r"|サポートの(人|方)")
_JA_REQUEST = re.compile(r"話|はな|つな|繋|代わ|替わ|変わ|かわ|呼|お願い|希望|たい|ください|下さい|出して|対応して")
_EN_PERSON = r"(human|person|agent|operator|representative|rep|someone|somebody|staff|people|real person|live chat)"
_EN_REQUEST = re.compile(rf"\b(talk|speak|chat|connect|transfer|put me through|get|want|need|give me)\b"
                         rf".*\b{_EN_PERSON}\b")
_EN_SHORT = re.compile(rf"^(a |an |to a |talk to )?(live |real )?{_EN_PERSON}( please| now)?$")


def wants_human(text: str) -> bool:
    said = unicodedata.normalize("NFKC", text).casefold().strip().rstrip("。.!！?？ ")
    if _JA_PERSON.search(said) and (_JA_REQUEST.search(said) or len(said) <= 10):
        return True
    return bool(_EN_REQUEST.search(said) or _EN_SHORT.match(said))
