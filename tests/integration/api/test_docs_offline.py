"""``/docs`` and ``/redoc`` render with no network beyond the app, as on a bank intranet.

Chromium loads each page from the running server with every other host unresolvable (the rule maps every
name but the loopback address to nothing), runs its scripts and dumps the DOM: the operations must be
there. FastAPI's defaults load Swagger UI and ReDoc from a CDN and leave both pages blank here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ...chromium import CHROMIUM, run_chromium
from .conftest import Server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def _rendered(server: Server, path: str, profile: Path) -> str:
    done = run_chromium(
        [
            OFFLINE,
            "--window-size=1280,4000",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{server.base}{path}",
        ],
        profile,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_render_from_the_apps_own_assets(server: Server, tmp_path: Path, path: str) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    with server.client() as client:
        page = client.get(path)
        # the page names no asset outside the app, and every asset it names is served
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", page.text) + re.findall(
            r"url: '([^']+)'", page.text
        )
        assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200 and len(served.content) > 100, asset
    dom = _rendered(server, path, tmp_path / "profile")
    # the operations are on the rendered page (a blank page has only the empty mount point)
    if path == "/docs":
        assert dom.count('class="opblock ') >= 5 and "/v1/decisions" in dom
    else:
        assert "/v1/decisions" in dom and len(re.sub(r"<[^>]+>", "", dom)) > 5000
