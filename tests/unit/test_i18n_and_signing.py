from __future__ import annotations

import json
from pathlib import Path

from madoguchi.channels.webchat.signing import sign_identity, verify_identity
from madoguchi.kernel.i18n import negotiate

LOCALE = Path(__file__).parents[2] / "src" / "madoguchi" / "web" / "locale"


def test_language_negotiation() -> None:
    assert negotiate("ja-JP,ja;q=0.9,en;q=0.8") == "ja"
    assert negotiate("fr-FR, en;q=0.5, ja;q=0.4") == "en"
    assert negotiate("en;q=0.2, ja;q=0.9") == "ja"
    assert negotiate("de") == "en"
    assert negotiate(None) == "en"
    assert negotiate("ja", preferred="en") == "en"
    assert negotiate("en;q=bogus,ja") == "ja"


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en = json.loads((LOCALE / "en.json").read_text(encoding="utf-8"))
    ja = json.loads((LOCALE / "ja.json").read_text(encoding="utf-8"))
    assert en.keys() == ja.keys()
    for key in en:
        assert ja[key].strip(), key
        placeholders = {part.split("}")[0] for part in en[key].split("{")[1:]}
        assert placeholders == {part.split("}")[0] for part in ja[key].split("{")[1:]}, key


def test_identity_signature_round_trip() -> None:
    signature = sign_identity("secret", "user-42")
    assert len(signature) == 64
    assert verify_identity("secret", "user-42", signature)
    assert verify_identity("secret", "user-42", signature.upper())
    assert not verify_identity("secret", "user-43", signature)
    assert not verify_identity("other", "user-42", signature)
