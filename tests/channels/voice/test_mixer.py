"""The conference mixer: each member hears everyone else, never itself, in its own law; a late
or silent member adds silence; a member on hold gets nothing from the mix."""

from __future__ import annotations

import array

from madoguchi.channels.voice import g711
from madoguchi.channels.voice.mixer import FRAME, MAX_BUFFER, Mixer


class Member:
    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.playing = False
        self.heard: list[bytes] = []

    def send_audio(self, payload: bytes) -> None:
        self.heard.append(payload)


def frame(level: int, law: str) -> bytes:
    return g711.encode(array.array("h", [level] * FRAME).tobytes(), law)


def level(payload: bytes, law: str) -> int:
    samples = array.array("h")
    samples.frombytes(g711.decode(payload, law))
    return round(sum(samples) / len(samples))


def test_each_member_hears_the_sum_of_the_others() -> None:
    mixer = Mixer()
    a, b, c = Member("PCMU"), Member("PCMA"), Member("PCMU")
    for member in (a, b, c):
        mixer.add(member)  # type: ignore[arg-type]
    mixer.put(a, frame(1000, "PCMU"))  # type: ignore[arg-type]
    mixer.put(b, frame(2000, "PCMA"))  # type: ignore[arg-type]
    mixer.tick()                       # c said nothing this frame
    assert abs(level(a.heard[0], "PCMU") - 2000) < 80
    assert abs(level(b.heard[0], "PCMA") - 1000) < 80
    assert abs(level(c.heard[0], "PCMU") - 3000) < 120
    assert all(len(m.heard[0]) == FRAME for m in (a, b, c))


def test_loud_sums_clip_and_a_member_on_hold_is_left_out() -> None:
    mixer = Mixer()
    a, b, c = Member("PCMU"), Member("PCMU"), Member("PCMU")
    for member in (a, b, c):
        mixer.add(member)  # type: ignore[arg-type]
    c.playing = True
    mixer.put(a, frame(30000, "PCMU"))  # type: ignore[arg-type]
    mixer.put(b, frame(30000, "PCMU"))  # type: ignore[arg-type]
    mixer.tick()
    assert c.heard == []
    assert level(a.heard[0], "PCMU") > 29000  # b only
    mixer.remove(b)  # type: ignore[arg-type]
    mixer.remove(c)  # type: ignore[arg-type]
    mixer.tick()     # one member left: nothing to mix
    assert len(a.heard) == 1


def test_a_fast_member_cannot_build_up_delay() -> None:
    mixer = Mixer()
    a, b = Member("PCMU"), Member("PCMU")
    mixer.add(a)  # type: ignore[arg-type]
    mixer.add(b)  # type: ignore[arg-type]
    for n in range(20):  # 20 frames arrive in a burst: only the newest MAX_BUFFER samples are kept
        mixer.put(a, frame(100 * n, "PCMU"))  # type: ignore[arg-type]
    mixer.tick()
    kept = MAX_BUFFER // FRAME
    assert abs(level(b.heard[0], "PCMU") - 100 * (20 - kept)) < 40
