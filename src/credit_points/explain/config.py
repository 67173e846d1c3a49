"""The reason-code table (``configs/reason_codes.yaml``): codes and zh/en texts for every adverse reason.

Sources of reasons, in the order a decision lists them: the trigger of a refer or decline (``T..`` for
the PD in the referral band or above the cut-off; a refer rule's own ``P..`` code), vetoes (``V..``),
failed policy rules (``P..``), limit-waterfall steps that cut the limit (``L..``), points deductions
(``D..``) and PD-model reason families (``M..``). Each PD-model feature belongs to exactly one family. The file's
``version`` is the table version every decision records.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config

SOURCES: tuple[str, ...] = ("trigger", "veto", "rule", "limit_step", "deduction", "family")
#: trigger ids the engine knows: the PD above the chosen product's refer line, above every cut-off
TRIGGER_IDS: tuple[str, ...] = ("pd_refer_band", "pd_cutoff")


class ReasonCode(StrictModel):
    """One reason: the id it explains (veto, rule, step or deduction id), its code and texts."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    text_zh: str = Field(min_length=1)
    text_en: str = Field(min_length=1)


class ReasonFamily(ReasonCode):
    """A group of PD-model features explained together (e.g. ``leverage``)."""

    features: tuple[str, ...] = Field(min_length=1)


class ReasonCodesConfig(VersionedConfig):
    """The whole reason-code table.

    Attributes:
        max_codes: most reasons given on one decision (adverse-action practice: four).
        min_contribution: a family is a reason only when its contribution (log-odds) exceeds this.
    """

    kind: Literal["reason_codes"] = "reason_codes"
    max_codes: int = Field(default=4, ge=1, le=4)
    min_contribution: float = Field(default=0.0, ge=0)
    triggers: tuple[ReasonCode, ...] = ()
    vetoes: tuple[ReasonCode, ...] = ()
    rules: tuple[ReasonCode, ...] = ()
    limit_steps: tuple[ReasonCode, ...] = ()
    deductions: tuple[ReasonCode, ...] = ()
    families: tuple[ReasonFamily, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ReasonCodesConfig:
        codes = [c.code for c in self.entries()]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"reason codes used twice: {dupes}")
        for source, items in self._by_source().items():
            ids = [i.id for i in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{source} ids listed twice: {dupes}")
        unknown = sorted({t.id for t in self.triggers} - set(TRIGGER_IDS))
        if unknown:
            raise ValueError(f"unknown trigger ids {unknown}; the engine knows {list(TRIGGER_IDS)}")
        features = [f for fam in self.families for f in fam.features]
        dupes = sorted({f for f in features if features.count(f) > 1})
        if dupes:
            raise ValueError(f"features in more than one family (each must map to exactly one): {dupes}")
        return self

    def _by_source(self) -> dict[str, tuple[ReasonCode, ...]]:
        return {
            "trigger": self.triggers,
            "veto": self.vetoes,
            "rule": self.rules,
            "limit_step": self.limit_steps,
            "deduction": self.deductions,
            "family": self.families,
        }

    def entries(self) -> list[ReasonCode]:
        """Every reason in the table, source by source."""
        return [item for items in self._by_source().values() for item in items]

    @cached_property
    def by_code(self) -> dict[str, tuple[str, ReasonCode]]:
        """Code -> (source, entry)."""
        return {item.code: (source, item) for source, items in self._by_source().items() for item in items}

    @cached_property
    def feature_family(self) -> dict[str, str]:
        """PD-model feature -> reason family id."""
        return {f: fam.id for fam in self.families for f in fam.features}

    def trigger_code(self, trigger_id: str) -> str | None:
        """The code of a PD trigger (``pd_refer_band``, ``pd_cutoff``); ``None`` in tables that predate them."""
        return next((t.code for t in self.triggers if t.id == trigger_id), None)

    def text(self, code: str, lang: str = "zh") -> str:
        """The text of one code.

        Raises:
            KeyError: an unknown code.

        Examples:
            >>> codes = load_reason_codes()
            >>> codes.text("V04", "en")
            'The tax credit grade is D'
        """
        _, item = self.by_code[code]
        return item.text_zh if lang == "zh" else item.text_en

    def missing(
        self,
        *,
        veto_ids: Iterable[str] = (),
        rule_ids: Iterable[str] = (),
        deduction_ids: Iterable[str] = (),
        features: Iterable[str] = (),
    ) -> dict[str, list[str]]:
        """What the table does not cover: ids and features a decision could name but that have no code.

        The decision engine calls this once at start-up with the points profile's veto and deduction ids,
        the policy's rule ids and the PD model's features; an empty result means every reason has a text.
        The built-in rules ``no_veto`` and ``pd_cutoff`` need no code (vetoes and model families explain them).
        """
        have = {source: {i.id for i in items} for source, items in self._by_source().items()}
        have["rule"] |= {"no_veto", "pd_cutoff"}
        wanted = {"veto": veto_ids, "rule": rule_ids, "deduction": deduction_ids}
        out = {source: sorted(set(ids) - have[source]) for source, ids in wanted.items()}
        out["feature"] = sorted(set(features) - set(self.feature_family))
        return {k: v for k, v in out.items() if v}


def load_reason_codes(path: str | Path | None = None) -> ReasonCodesConfig:
    """The reason-code table (default ``configs/reason_codes.yaml``)."""
    return load_config(path or CONFIG_DIR / "reason_codes.yaml", ReasonCodesConfig)
