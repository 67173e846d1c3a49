"""The bilingual message catalogue (``configs/messages.yaml``): every label and sentence a report prints.

One file holds the Chinese and English text of each message, so the two languages cannot drift apart; the
model refuses a message without both texts, and :meth:`MessagesConfig.text` names a missing key instead of
printing it. Number formats (money in 万元 for Chinese readers, yuan for English) live here too.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from credit_points.config import CONFIG_DIR, StrictModel, VersionedConfig, load_config
from credit_points.exceptions import ConfigError

LANGS: tuple[str, ...] = ("zh", "en")


class Message(StrictModel):
    """One message in both languages (``str.format`` placeholders allowed, the same in both)."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class MoneyFormat(StrictModel):
    """How money prints in one language: ``value / divisor`` with ``decimals`` and a ``unit``."""

    divisor: float = Field(gt=0)
    decimals: int = Field(ge=0, le=4)
    unit: str = Field(min_length=1)


class MessagesConfig(VersionedConfig):
    """The catalogue: ``messages`` by key, and money formats by language."""

    kind: Literal["messages"] = "messages"
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
