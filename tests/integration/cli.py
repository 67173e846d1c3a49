"""Running ``credit-points`` as a user does: a real process of the installed command line."""

from __future__ import annotations

import subprocess
import sys


def run_cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m credit_points.cli ARGS`` with ``env``; its output captured, never raising on exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "credit_points.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
