"""统一社会信用代码 (unified social credit code, GB 32100-2015): check digit, validity, synthetic codes.

A code has 18 characters from a 31-character set (digits and capital letters without I, O, S, V, Z):
position 1 the registration authority, 2 the entity category, 3–8 the administrative division of the
registering office (GB/T 2260, digits), 9–17 the entity identifier and 18 the check digit
``C18 = (31 - Σ value(Ci) × Wi mod 31) mod 31``.

Examples:
    >>> check_digit("91350100M000100Y4")
    '3'
    >>> is_valid("91350100M000100Y43"), is_valid("91350100M000100Y44")
    (True, False)
    >>> valid_mask(["914403001922038216", "91440300192203821X", None]).tolist()
    [True, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from credit_points.exceptions import DataValidationError

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CODE_LENGTH = 18
_DIVISION = slice(2, 8)

_WEIGHTS = np.asarray(WEIGHTS, dtype=np.int64)
_CHARSET_CODEPOINTS = np.frombuffer(CHARSET.encode("ascii"), dtype=np.uint8).astype(np.int64)


def _value_table() -> np.ndarray:
    """Code point (0–127) → character value, −1 for characters outside the set."""
    table = np.full(128, -1, dtype=np.int64)
    table[_CHARSET_CODEPOINTS] = np.arange(len(CHARSET))
    return table


def check_digit(first17: str) -> str:
    """The check character for the first 17 characters of a code.

    Raises:
        DataValidationError: when the input is not 17 characters of the code's character set.

    Examples:
        >>> check_digit("91330100716105852")
        'F'
    """
    if not isinstance(first17, str) or len(first17) != CODE_LENGTH - 1:
        raise DataValidationError("expected the first 17 characters of a credit code", field="firm_id")
    try:
        total = sum(CHARSET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    except ValueError:
        raise DataValidationError(
            f"character outside the GB 32100-2015 set {CHARSET!r}", field="firm_id", value=first17
        ) from None
    return CHARSET[(31 - total % 31) % 31]


def is_valid(code: object) -> bool:
    """Whether ``code`` is a well-formed code with a correct check digit.

    Examples:
        >>> is_valid("91310110666007217T"), is_valid("91310110666007217t"), is_valid(12345)
        (True, False, False)
    """
    return bool(valid_mask([code])[0])


def valid_mask(codes: Iterable[object]) -> np.ndarray:
    """Vectorised :func:`is_valid`: a boolean array, False for missing, short, long or malformed codes.

    Args:
        codes: any iterable of values (list, numpy array, pandas Series); non-strings are invalid.

    Examples:
        >>> valid_mask(np.array(["91110000802100433B", "9111000080210043"], dtype=object)).tolist()
        [True, False]
    """
    values = np.asarray(list(codes) if not hasattr(codes, "__array__") else codes, dtype=object)
    values = values.reshape(-1)
    is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=values.size)
    result = np.zeros(values.size, dtype=bool)
    if not is_str.any():
        return result
    strings = values[is_str]
    # Lengths first (on the objects), so one very long value cannot blow up a fixed-width array.
    right_length = np.fromiter((len(v) == CODE_LENGTH for v in strings), dtype=bool, count=strings.size)
    candidates = strings[right_length].astype(f"<U{CODE_LENGTH}")
    if candidates.size == 0:
        return result
    points = candidates.view(np.uint32).reshape(-1, CODE_LENGTH).astype(np.int64)
    ascii_ok = (points < 128).all(axis=1)
    char_values = _value_table()[np.minimum(points, 127)]
    chars_ok = ascii_ok & (char_values >= 0).all(axis=1)
    division = points[:, _DIVISION]
    digits_ok = ((division >= ord("0")) & (division <= ord("9"))).all(axis=1)
    total = (np.where(char_values[:, :17] >= 0, char_values[:, :17], 0) * _WEIGHTS).sum(axis=1)
    check_ok = (31 - total % 31) % 31 == char_values[:, 17]
    ok_str = np.zeros(strings.size, dtype=bool)
    ok_str[right_length] = chars_ok & digits_ok & check_ok
    result[is_str] = ok_str
    return result


def generate_codes(
    n: int,
    rng: np.random.Generator,
    divisions: np.ndarray | None = None,
    *,
    prefix: str = "91",
) -> np.ndarray:
    """``n`` distinct, valid synthetic codes for enterprises (``91`` + division + ``MA`` + 7 characters).

    The entity identifier follows the ``MA…`` form of codes issued to new enterprises since 2015. The
    codes are synthetic: they pass the check digit but are not drawn from any register.

    Args:
        n: how many codes.
        rng: the random generator (the output depends only on its state).
        divisions: one 6-digit administrative division code per firm (str); ``"430100"`` by default.
        prefix: registration authority and category (``91`` = market regulator, enterprise).

    Returns:
        An object array of ``n`` unique strings.

    Examples:
        >>> codes = generate_codes(1000, np.random.default_rng(0))
        >>> bool(valid_mask(codes).all()), len(set(codes))
        (True, 1000)
    """
    if n < 0:
        raise DataValidationError("must be non-negative", field="n_firms", value=n)
    if divisions is None:
        divisions = np.full(n, "430100", dtype="<U6")
    divisions = np.asarray(divisions, dtype="<U6")
    base = len(CHARSET)
    space = base**7
    body = rng.integers(0, space, size=n, dtype=np.int64)
    # Redraw the (rare) repeats within a division so that every code is distinct.
    for _ in range(100):
        keys = np.char.add(divisions, body.astype("<U12"))
        _, first = np.unique(keys, return_index=True)
        repeat = np.ones(n, dtype=bool)
        repeat[first] = False
        if not repeat.any():
            break
        body[repeat] = rng.integers(0, space, size=int(repeat.sum()), dtype=np.int64)
    else:  # pragma: no cover - needs ~31**7 firms in one division
        raise DataValidationError("cannot draw enough distinct codes", field="n_firms", value=n)
    values = np.empty((n, CODE_LENGTH), dtype=np.int64)
    table = _value_table()
    values[:, 0] = table[ord(prefix[0])]
    values[:, 1] = table[ord(prefix[1])]
    division_points = divisions.view(np.uint32).reshape(n, 6).astype(np.int64)
    values[:, 2:8] = table[division_points]
    values[:, 8] = table[ord("M")]
    values[:, 9] = table[ord("A")]
    remainder = body.copy()
    for position in range(16, 9, -1):
        values[:, position] = remainder % base
        remainder //= base
    values[:, 17] = (31 - (values[:, :17] * _WEIGHTS).sum(axis=1) % 31) % 31
    points = _CHARSET_CODEPOINTS[values].astype(np.uint32)
    return points.view(f"<U{CODE_LENGTH}").reshape(n).astype(object)


def synthetic_codes(n: int, seed: int = 0, division: str = "430100") -> np.ndarray:
    """``n`` distinct valid synthetic codes from a seed (a convenience over :func:`generate_codes`).

    Examples:
        >>> codes = synthetic_codes(3, seed=1)
        >>> bool(valid_mask(codes).all()), (codes == synthetic_codes(3, seed=1)).all()
        (True, np.True_)
    """
    return generate_codes(n, np.random.default_rng(seed), np.full(n, division, dtype="<U6"))
