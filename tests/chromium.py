"""The headless Debian Chromium the browser tests drive (installed by ``make test``'s system step)."""

from __future__ import annotations

import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def run_chromium(args: list[str], profile: Path, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Chromium with the shared flags and its own profile folder."""
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip
