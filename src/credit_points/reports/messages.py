"""The bilingual message catalogue (``configs/messages.yaml``): every label and sentence a report prints.

One file holds the Chinese and English text of each message, so the two languages cannot drift apart; the
model refuses a message without both texts, and :meth:`MessagesConfig.text` names a missing key instead of
printing it. Number formats (money in 万元 for Chinese readers, yuan for English) live here too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config
from credit_points.exceptions import ConfigError

LANGS: tuple[str, ...] = ("zh", "en")


class Message(StrictModel):
    """One message in both languages (``str.format`` placeholders allowed, the same in both)."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class MoneyFormat(StrictModel):
    """How money prints in one language: ``value / divisor`` with ``decimals`` and a ``unit``.

    From ``large_from`` yuan on, amounts print in the larger unit a reader expects (4.18 亿元, not
    41,758.64 万元): ``value / large_divisor`` with ``decimals`` and ``large_unit``.
    """

    divisor: float = Field(gt=0)
    decimals: int = Field(ge=0, le=4)
    unit: str = Field(min_length=1)
    large_from: float | None = Field(default=None, gt=0)
    large_divisor: float | None = Field(default=None, gt=0)
    large_unit: str | None = None


class StabilityBands(StrictModel):
    """How PSI / CSI values are lit in reports: amber from ``amber``, red from ``red``."""

    amber: float = Field(gt=0)
    red: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> StabilityBands:
        if self.red <= self.amber:
            raise ValueError(f"stability.red must exceed stability.amber; got {self.red} <= {self.amber}")
        return self

    def light(self, value: float | None) -> str:
        """``green``, ``amber``, ``red`` or ``n/a``.

        Examples:
            >>> StabilityBands(amber=0.1, red=0.25).light(0.12)
            'amber'
        """
        if value is None or value != value:
            return "n/a"
        return "red" if value >= self.red else "amber" if value >= self.amber else "green"


class MessagesConfig(VersionedConfig):
    """The catalogue: ``messages`` by key, money formats by language, and PSI/CSI display bands."""

    kind: Literal["messages"] = "messages"
    stability: StabilityBands = StabilityBands(amber=0.10, red=0.25)
    money: dict[Literal["zh", "en"], MoneyFormat]
    messages: dict[str, Message]

    def text(self, key: str, lang: str = "zh", **values: Any) -> str:
        """The message ``key`` in ``lang``, with ``values`` filled in.

        Raises:
            ConfigError: naming the key when the catalogue lacks it, or the language when unknown.

        Examples:
            >>> load_messages().text("decision.approve", "en")
            'Approved'
        """
        if lang not in LANGS:
            raise ConfigError(f"unknown language {lang!r}; expected one of {list(LANGS)}", location="lang")
        try:
            message = self.messages[key]
        except KeyError:
            raise ConfigError(f"no message {key!r} in the catalogue", location=f"messages.{key}") from None
        template = message.zh if lang == "zh" else message.en
        return template.format(**values) if values else template

    def has(self, key: str) -> bool:
        """Whether the catalogue holds ``key``."""
        return key in self.messages


@lru_cache(maxsize=4)
def load_messages(path: str | Path | None = None) -> MessagesConfig:
    """The message catalogue (default ``configs/messages.yaml``), read once per path."""
    return load_config(path or CONFIG_DIR / "messages.yaml", MessagesConfig)
