"""Explanations as data: model contributions grouped into reason families, and reason codes with zh/en text.

``explain.config`` holds the reason-code table (``load_reason_codes``); ``explain.reasons`` computes the
codes of adverse decisions (``reason_codes``, ``adverse_outcome``, ``group_contributions``). See
docs/policy.md.
"""
