"""统一社会信用代码 check digit (GB 32100-2015): known answers, every corrupted position, vectorised mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_points.datasets import uscc
from credit_points.exceptions import DataValidationError

# Published codes of registered entities (quoted in public validators' test suites and on licences).
PUBLISHED = [
    "914403001922038216",
    "91330100716105852F",
    "91350100M000100Y43",
    "91110000802100433B",
    "91310115591693856A",
    "91310110666007217T",
    "91350200776049653A",
    "91350500798359476R",
    "91440101MA5CJQ4N59",
    "913502000728319549",
    "91440300708461136T",
    "91110108551385082Q",
]
# Early pilot-area codes issued before the standard; they do not satisfy its check digit.
PRE_STANDARD = ["91350211M00013FA1N", "91350203M0001QAY9B"]


def test_charset_and_weights_match_the_standard() -> None:
    # Given the standard: 31 characters, digits and capitals without I, O, S, V, Z; weights 3^i mod 31
    expected_chars = [c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOSVZ"]
    expected_weights = [pow(3, i, 31) for i in range(17)]
    # Then
    assert list(uscc.CHARSET) == expected_chars
    assert list(uscc.WEIGHTS) == expected_weights


def test_check_digit_by_hand() -> None:
    # Given 91350100M000100Y4 and the value of each character (M=21, Y=30)
    values = [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(v * w for v, w in zip(values, weights, strict=True))
    # When / Then: C18 = 31 - total mod 31
    assert uscc.check_digit("91350100M000100Y4") == uscc.CHARSET[(31 - total % 31) % 31] == "3"


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code: str) -> None:
    assert uscc.check_digit(code[:17]) == code[17]
    assert uscc.is_valid(code)


@pytest.mark.parametrize("code", PRE_STANDARD)
def test_pre_standard_codes_fail_the_check(code: str) -> None:
    assert not uscc.is_valid(code)


@pytest.mark.parametrize("code", PUBLISHED[:4])
def test_every_corrupted_position_is_detected(code: str) -> None:
    # Given every code that differs from a valid one in exactly one position (any other character)
    variants = [code[:i] + c + code[i + 1 :] for i in range(18) for c in uscc.CHARSET if c != code[i]]
    # When
    mask = uscc.valid_mask(variants)
    # Then a single substitution is always caught (31 is prime and no weight is 0 mod 31)
    assert len(variants) == 18 * 30
    assert not mask.any()
    assert not any(uscc.is_valid(v) for v in variants[::37])


@pytest.mark.parametrize(
    "bad",
    [
        "91350100m000100y43",  # lower case
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100I000100Y43",  # I is not in the set
        "9135A100M000100Y43",  # division code must be digits
        "９１350100M000100Y43",  # full-width digits
        "",
        None,
        np.nan,
        914403001922038216,
    ],
)
def test_malformed_values_are_invalid(bad: object) -> None:
    assert not uscc.is_valid(bad)


def test_check_digit_rejects_bad_input_naming_the_field() -> None:
    with pytest.raises(DataValidationError, match="firm_id"):
        uscc.check_digit("9135010")
    with pytest.raises(DataValidationError, match="firm_id"):
        uscc.check_digit("91350100O000100Y4")


def test_valid_mask_agrees_with_is_valid_on_a_series_with_gaps() -> None:
    # Given a pandas string series with missing values and mixed validity
    values = pd.Series([*PUBLISHED, None, "x", *PRE_STANDARD], dtype="str")
    # When
    mask = uscc.valid_mask(values)
    # Then
    assert mask.tolist() == [uscc.is_valid(v) for v in values.tolist()]
    assert mask.sum() == len(PUBLISHED)


def test_generated_codes_are_unique_valid_and_carry_the_division() -> None:
    # Given
    divisions = np.array(["430100", "320200"] * 2500)
    # When
    codes = uscc.generate_codes(5000, np.random.default_rng(5), divisions)
    again = uscc.generate_codes(5000, np.random.default_rng(5), divisions)
    # Then
    assert uscc.valid_mask(codes).all()
    assert len(set(codes)) == 5000
    assert [c[2:8] for c in codes[:4]] == ["430100", "320200", "430100", "320200"]
    assert all(c.startswith("91") for c in codes)
    assert (codes == again).all()
