"""``python -m credit_points.cli``: the same as the ``credit-points`` command."""

from credit_points.cli import main

main()
