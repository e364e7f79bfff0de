"""The service-level definition of a queue (KPI.md: T, short abandons, which abandons and flow-outs
count, answered- or removed-within-T) and the sentence that states it on every report."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

Abandons = Literal["after_threshold", "all", "none"]
Include = Literal["exclude", "include"]
Method = Literal["answered", "removed"]


class Level(BaseModel):
    """Tile colours: at ``amber`` the tile turns amber, at ``red`` red. For service level lower is
    worse; for everything else higher is worse."""

    amber: float
    red: float


class WallboardThresholds(BaseModel):
    waiting: Level | None = None
    longest_wait_s: Level | None = None
    service_level: Level | None = None
    abandon_rate: Level | None = None
    asa_s: Level | None = None
    aht_s: Level | None = None


class SlDefinition(BaseModel):
    threshold_s: int = Field(ge=1, le=7 * 86_400)
    short_abandon_s: int = Field(ge=0, le=3_600)
    abandons: Abandons = "after_threshold"
    short_abandons: Include = "exclude"
    flow_outs: Include = "exclude"
    method: Method = "answered"

    @model_validator(mode="after")
    def _short_within_threshold(self) -> Self:
        if self.short_abandon_s > self.threshold_s:
            raise ValueError("short_abandon_s must not exceed threshold_s")
        return self

    @property
    def threshold_ms(self) -> int:
        return self.threshold_s * 1000

    @property
    def short_ms(self) -> int:
        return self.short_abandon_s * 1000

    def sentence(self, language: str) -> str:
        return _sentence_ja(self) if language == "ja" else _sentence_en(self)

    def stated(self) -> dict[str, Any]:
        return {**self.model_dump(), "text_en": self.sentence("en"), "text_ja": self.sentence("ja")}


def _sentence_en(d: SlDefinition) -> str:
    t, s = d.threshold_s, d.short_abandon_s
    short = f"short abandons (≤ {s} s) {'included' if d.short_abandons == 'include' else 'excluded'}"
    flows = f"flow-outs {'included' if d.flow_outs == 'include' else 'excluded'}"
    if d.method == "removed":
        aband = "abandons excluded" if d.abandons == "none" else "abandons included"
        return f"Service level: left the queue within {t} s ÷ entered the queue; {aband}; {short}; {flows}"
    counted = {"after_threshold": f"abandoned after {t} s", "all": "abandoned", "none": ""}[d.abandons]
    parts = ["answered", *([counted] if counted else []), *(["flowed out"] if d.flow_outs == "include" else [])]
    return (f"Service level: answered within {t} s ÷ ({' + '.join(parts)}); "
            f"{short if d.abandons != 'none' else 'abandons excluded'}; {flows}")


def _sentence_ja(d: SlDefinition) -> str:
    t, s = d.threshold_s, d.short_abandon_s
    short = f"短時間放棄（{s} 秒以内）を{'含む' if d.short_abandons == 'include' else '除く'}"
    flows = f"フローアウトを{'含む' if d.flow_outs == 'include' else '除く'}"
    if d.method == "removed":
        aband = "放棄を除く" if d.abandons == "none" else "放棄を含む"
        return f"サービスレベル：{t} 秒以内にキューを離れた件数 ÷ キューに入った件数。{aband}。{short}。{flows}"
    counted = {"after_threshold": f"{t} 秒超の放棄", "all": "放棄", "none": ""}[d.abandons]
    parts = ["応答", *([counted] if counted else []), *(["フローアウト"] if d.flow_outs == "include" else [])]
    return (f"サービスレベル：{t} 秒以内の応答 ÷（{' ＋ '.join(parts)}）。"
            f"{short if d.abandons != 'none' else '放棄を除く'}。{flows}")


def default_definition(service_level_s: int, short_abandon_s: int) -> SlDefinition:
    threshold = max(1, service_level_s)
    return SlDefinition(threshold_s=threshold, short_abandon_s=min(short_abandon_s, threshold))
