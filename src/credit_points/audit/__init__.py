"""The audit package: the append-only, hash-chained decision store, API keys and replay.

Import from the modules: :mod:`credit_points.audit.store` (``AuditStore``, ``AuditRow``, ``VerifyResult``),
:mod:`credit_points.audit.keys` (``ApiKeyStore``) and :mod:`credit_points.audit.replay`.
"""
