"""Lending policy: products, eligibility, capacity, the limit waterfall, pricing, expected loss and decision.

``policy.config`` holds the validated policy and product catalogue (``load_policy``); ``policy.decision``
applies it to whole frames (``apply_policy``, ``product_offers``). See docs/policy.md.
"""
