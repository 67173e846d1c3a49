"""Keeping identities and credentials out of logs: scrubbing patterns and a process-wide log-record hook.

The API never logs request bodies. As a second line of defence every log record created in the process
(ours, uvicorn's, libraries') is scrubbed when it is created: unified social credit codes, resident ID
and mobile numbers, enterprise names (by their legal-form suffix), API keys and authorization headers are
replaced, also inside formatted tracebacks.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from credit_points.audit.keys import KEY_PATTERN

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(authorization|x-api-key)(['\"]?\s*[:=,]\s*['\"]?)(bearer\s+)?[^\s'\",;]+"),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"(cpk_[0-9a-f]{12}_)[A-Za-z0-9_-]+"), r"\1[REDACTED]"),
    (
        re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"),
        "[USCC]",
    ),
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])"), "[ID]"),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)"), "[PHONE]"),
    (
        re.compile(
            r"[\u3400-\u9fff（）()·]{2,60}?"
            r"(?:股份有限公司|有限责任公司|有限公司|股份公司|合伙企业|集团|研究院|研究所|工作室|事务所|分公司)"
        ),
        "[ENTERPRISE]",
    ),
)
KEY_RE = KEY_PATTERN


def scrub(text: str) -> str:
    """``text`` with identities and credentials replaced.

    Examples:
        >>> scrub("firm 91430100MA4L0XQJ35 named 长沙示例智能科技有限公司 called from 13812345678")
        'firm [USCC] named [ENTERPRISE] called from [PHONE]'
        >>> scrub("Authorization: Bearer abc.def")
        'Authorization: [REDACTED]'
    """
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _scrub_arg(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, int | float | bool):
        return value
    return scrub(str(value))


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub a log record in place: message, arguments and any traceback."""
    if isinstance(record.msg, str):
        record.msg = scrub(record.msg)
    elif record.msg is not None and not isinstance(record.msg, int | float):
        record.msg = scrub(str(record.msg))
    if isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _scrub_arg(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs records (for handlers that receive records from other processes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed: dict[str, Any] = {}


def install_log_redaction() -> None:
    """Scrub every log record created from now on in this process (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    _installed["previous"] = previous
    logging.setLogRecordFactory(factory)


def uninstall_log_redaction() -> None:
    """Restore the log-record factory that was in place before :func:`install_log_redaction` (for tests)."""
    previous = _installed.pop("previous", None)
    if previous is not None:
        logging.setLogRecordFactory(previous)


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config`` dict for uvicorn with the redacting filter on every handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "credit_points.api.redaction.RedactingFilter"}},
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s %(levelname)s access %(client_addr)s "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "filters": ["redact"],
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "credit_points": {"handlers": ["default"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }
