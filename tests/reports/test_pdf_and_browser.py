"""Printable and real: the PDF carries the Chinese labels with embedded CJK glyphs; Chromium renders the page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from credit_points.reports.loan import render_report
from credit_points.reports.messages import load_messages
from credit_points.reports.pdf import html_to_pdf

from ..chromium import CHROMIUM, run_chromium

LABELS = (
    "report.title",
    "section.outcome",
    "section.points",
    "section.risk",
    "section.help",
    "section.products",
)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module", params=["chromium", "weasyprint"])
def decline_pdf(request, sample_records, decided, tmp_path_factory):
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    if request.param == "chromium" and shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not installed")
    path = tmp_path_factory.mktemp("pdf") / f"decline.zh.{request.param}.pdf"
    html = render_report(sample_records["decline"], decided.engine, "html", "zh").decode("utf-8")
    path.write_bytes(html_to_pdf(html, engine=request.param))
    return path


def test_pdf_text_has_the_chinese_labels_and_no_missing_glyphs(decline_pdf, sample_records):
    # given the Chinese PDF of a declined firm, printed by either engine
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(decline_pdf), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    flat = _normalise(text)
    messages = load_messages()
    # then the section labels, the firm name and the reasons' texts read back as Chinese text
    for key in LABELS:
        assert _normalise(messages.text(key, "zh")) in flat, key
    record = sample_records["decline"]
    if record["input"].get("name"):
        assert _normalise(record["input"]["name"]) in flat
    for reason in record["reason_codes"]:
        assert _normalise(reason["text_zh"])[:8] in flat
    # and nothing came out as a replacement character or an empty box
    assert "\ufffd" not in text and "\u25a1" not in text and "\u2610" not in text
    # and every page carries its number out of the total (the @page footer)
    pages = int(re.search(r"Pages:\s+(\d+)", _pdfinfo(decline_pdf)).group(1))
    assert pages >= 2
    assert re.search(rf"\b{pages}\s*/\s*{pages}\b", text), "no 'n / n' footer on the last page"


def _pdfinfo(path: Path) -> str:
    return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout


def test_pdf_embeds_its_fonts_with_a_unicode_map(decline_pdf):
    if shutil.which("pdffonts") is None:
        pytest.skip("poppler-utils (pdffonts) is not installed")
    lines = subprocess.run(
        ["pdffonts", str(decline_pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    fonts = lines[2:]
    assert fonts, "no font in the PDF"
    # columns: name type encoding emb sub uni object-id generation: every font is embedded and maps its glyphs to Unicode
    # (so the text reads the same without the font installed, and copies and searches as text)
    assert all(line.split()[-5] == "yes" and line.split()[-3] == "yes" for line in fonts), fonts
    if "weasyprint" in decline_pdf.name:  # WeasyPrint embeds a subset of the CJK font itself
        assert any("CJK" in line for line in fonts)


_CHECK_SCRIPT = """<script>
(function () {
  var root = document.documentElement, width = root.clientWidth, bad = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { return; }
    if (r.right > width + 1 || r.left < -1) { bad.push(el.tagName + '.' + el.className + ':' + Math.round(r.right)); }
    var style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'svg') {
      bad.push('clipped ' + el.tagName + '.' + el.className);
    }
  });
  document.body.setAttribute('data-check', JSON.stringify({
    width: width, scrollWidth: root.scrollWidth, height: root.scrollHeight,
    textLength: document.body.innerText.length, overflowing: bad.slice(0, 20), count: bad.length}));
})();
</script></body>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return run_chromium(args, profile)


@pytest.mark.browser
@pytest.mark.parametrize("which,lang", [("approve", "zh"), ("decline", "en")])
def test_page_renders_in_chromium_without_overflow(sample_records, decided, tmp_path, which, lang):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    # given the report page with a small layout check appended
    html = render_report(sample_records[which], decided.engine, "html", lang).decode("utf-8")
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", _CHECK_SCRIPT), encoding="utf-8")
    # when Chromium loads it at 1200 px and dumps the DOM after scripts ran
    done = _chromium(["--window-size=1200,3000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
                     tmp_path / "profile")  # fmt: skip
    match = re.search(r'data-check="([^"]*)"', done.stdout)
    assert match, done.stderr[-2000:]
    check = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # then the page has content, no horizontal scroll and no element past the right edge
    assert check["textLength"] > 2000 and check["height"] > 1500
    assert check["scrollWidth"] <= check["width"]
    assert check["count"] == 0, check["overflowing"]


@pytest.mark.browser
def test_screenshot_is_not_blank(sample_records, decided, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    import matplotlib.image

    # given the Chinese report of an approved firm
    page = tmp_path / "report.html"
    page.write_bytes(render_report(sample_records["approve"], decided.engine, "html", "zh"))
    shot = tmp_path / "shot.png"
    # when Chromium takes a screenshot
    done = _chromium([f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri()], tmp_path / "profile")
    assert shot.exists(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[..., :3]
    # then a good share of the page is ink (text, tables, charts), in several colours
    ink = (pixels < 0.9).any(axis=2)
    assert ink.mean() > 0.03
    colours = np.unique((pixels[ink] * 8).astype(int), axis=0)
    assert len(colours) > 10


@pytest.mark.browser
def test_the_layout_check_catches_an_overflowing_element(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    # given a page with an element wider than the window
    page = tmp_path / "wide.html"
    page.write_text(
        "<html><body><p>x</p><div style='width:3000px'>wide</div></body></html>".replace(
            "</body>", _CHECK_SCRIPT
        )
    )
    # when checked like a report
    done = _chromium(
        ["--window-size=1200,800", "--virtual-time-budget=2000", "--dump-dom", page.as_uri()], tmp_path / "p"
    )
    check = json.loads(re.search(r'data-check="([^"]*)"', done.stdout).group(1).replace("&quot;", '"'))
    # then the overflow is reported
    assert check["count"] > 0 and check["scrollWidth"] > check["width"]
