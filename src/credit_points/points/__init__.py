"""Innovation points engine: stages, derived indicators, reference quantile tables, scoring, ranks, weak spots.

Modules: :mod:`~credit_points.points.config` (the zone profile), :mod:`~credit_points.points.reference`
(the pinned reference population), :mod:`~credit_points.points.scorer` (``PointsScorer`` /
``score_points``), :mod:`~credit_points.points.diagnosis` (weak spots and targets). See ``docs/points.md``.
"""
