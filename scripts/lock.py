"""Write ``serving/requirements.lock``: the image's exact dependency versions, with hashes.

Resolved by ``uv pip compile`` from ``pyproject.toml``'s ``[project.dependencies]`` for CPython 3.11 on
Linux (the image's ``python:3.11-slim``). The first line records the SHA-256 of those dependencies, so a
test (``tests/test_deployment.py``) notices a ``pyproject.toml`` changed without a new lock. Run through
``make lock``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "serving" / "requirements.lock"
MARK = "# pyproject-dependencies-sha256: "


def dependencies_digest(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """SHA-256 of the project's runtime dependencies as written (order kept)."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return hashlib.sha256(json.dumps(deps, ensure_ascii=False).encode("utf-8")).hexdigest()


def main() -> None:
    uv = Path(sys.executable).with_name("uv")
    resolved = subprocess.run(
        [str(uv), "pip", "compile", str(ROOT / "pyproject.toml"), "--python-version", "3.11",
         "--python-platform", "x86_64-manylinux_2_28", "--generate-hashes", "--no-header", "--quiet",
         "--index-url", "https://pypi.org/simple"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    header = (
        f"{MARK}{dependencies_digest()}\n"
        "# The image's dependencies (serving/Dockerfile installs them with --require-hashes).\n"
        "# Regenerate with `make lock` after changing pyproject.toml's dependencies.\n"
    )
    LOCK.write_text(header + resolved, encoding="utf-8")
    print(f"{LOCK.relative_to(ROOT)}: {resolved.count('==')} packages")


if __name__ == "__main__":
    main()
