"""The PDF engines: which one prints, the shared Chromium printer (order, restart, failures reported), and the
report batch printing through it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from credit_points.exceptions import ConfigError
from credit_points.pipelines.report import record_key, render_batch
from credit_points.reports import pdf as pdf_module
from credit_points.reports.loan import render_report
from credit_points.reports.pdf import PdfError, html_to_pdf, htmls_to_pdfs, resolve_engine

from ..chromium import CHROMIUM

needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed")
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_engine_choice_follows_the_setting(monkeypatch):
    monkeypatch.setenv("CREDIT_POINTS_PDF_ENGINE", "weasyprint")
    assert resolve_engine() == "weasyprint"
    # an engine that does not exist is refused by name
    with pytest.raises(ConfigError, match="'typeset'"):
        resolve_engine("typeset")


def test_chromium_asked_for_but_missing_is_refused_and_auto_falls_back(monkeypatch, tmp_path):
    missing = str(tmp_path / "no-such-chromium")
    monkeypatch.setenv("CREDIT_POINTS_CHROMIUM_PATH", missing)
    with pytest.raises(ConfigError, match="no Chromium executable"):
        resolve_engine("chromium")
    assert resolve_engine("auto") == "weasyprint"


def test_a_bad_engine_setting_is_refused_when_read(monkeypatch):
    from pydantic import ValidationError

    from credit_points.config import get_settings

    monkeypatch.setenv("CREDIT_POINTS_PDF_ENGINE", "typeset")
    with pytest.raises(ValidationError, match="pdf_engine"):
        get_settings()


@needs_chromium
@needs_poppler
def test_parallel_prints_come_back_in_input_order(tmp_path):
    # given six documents, each with its own Chinese marker, printed three at a time
    htmls = [f"<html><body><p>第{k}号报告 report-{k}</p></body></html>" for k in range(6)]
    pdfs = htmls_to_pdfs(htmls, engine="chromium", concurrency=3)
    # then each PDF is the document in its place, its Chinese text extractable
    for k, pdf in enumerate(pdfs):
        assert isinstance(pdf, bytes), pdf
        text = _text(pdf, tmp_path)
        assert f"第{k}号报告" in text and f"report-{k}" in text


@needs_chromium
@needs_poppler
def test_the_printer_starts_its_browser_again_when_it_died(tmp_path):
    # when the browser goes away (a crash, an out-of-memory kill)
    _printer_whose_browser_died()
    # then the next print starts a new one and prints
    assert "second" in _text(html_to_pdf("<p>second</p>", engine="chromium"), tmp_path)


def _printer_whose_browser_died() -> pdf_module.ChromiumPrinter:
    """This process's printer after a print, with its browser closed under it."""
    import asyncio

    html_to_pdf("<p>warm</p>", engine="chromium")
    printer = pdf_module._printer()
    asyncio.run_coroutine_threadsafe(printer._browser.close(), printer._loop).result(timeout=30)
    return printer


def test_a_chromium_that_cannot_start_fails_every_document_with_the_reason(monkeypatch):
    monkeypatch.setenv("CREDIT_POINTS_CHROMIUM_PATH", shutil.which("false") or "/bin/false")
    out = htmls_to_pdfs(["<p>a</p>", "<p>b</p>"], engine="chromium", concurrency=2)
    assert len(out) == 2
    assert all(isinstance(o, PdfError) and "could not start" in str(o) for o in out)
    with pytest.raises(PdfError, match="could not start"):
        html_to_pdf("<p>a</p>", engine="chromium")


@needs_chromium
@needs_poppler
def test_batch_prints_every_pdf_in_this_process(decided, tmp_path, monkeypatch):
    # given three decisions and the Chromium engine
    monkeypatch.setenv("CREDIT_POINTS_PDF_ENGINE", "chromium")
    records = decided.records[:3]
    # when their reports are rendered as HTML and PDF in both languages with two pages printing at once
    batch = render_batch(records, tmp_path, formats=("html", "pdf"), langs=("zh", "en"), engine=decided.engine,
                         model_uri="models:/unused/1", workers=2)  # fmt: skip
    # then every file is written (no worker process loaded the unused model URI), the HTML is the report's
    assert batch.failed == []
    assert len(batch.paths) == 3 * 2 * 2
    for record in records:
        key = record_key(record)
        html = (tmp_path / f"{key}.zh.html").read_bytes()
        assert html == render_report(record, decided.engine, "html", "zh")
        # and each PDF prints that decision
        text = _text((tmp_path / f"{key}.zh.pdf").read_bytes(), tmp_path)
        assert record["firm_id"] in text


def test_batch_reports_records_whose_pdf_failed_and_keeps_the_rest(decided, tmp_path, monkeypatch):
    # given a Chromium that cannot start
    monkeypatch.setenv("CREDIT_POINTS_PDF_ENGINE", "chromium")
    monkeypatch.setenv("CREDIT_POINTS_CHROMIUM_PATH", shutil.which("false") or "/bin/false")
    records = decided.records[:2]
    batch = render_batch(records, tmp_path, formats=("json", "pdf"), langs=("en",), engine=decided.engine)
    # then each record is reported failed with the reason, and the JSON reports were still written
    assert [key for key, _ in batch.failed] == [record_key(r) for r in records]
    assert all("could not start" in problem for _, problem in batch.failed)
    assert all((tmp_path / f"{record_key(r)}.en.json").exists() for r in records)


@needs_poppler
def test_auto_prints_with_weasyprint_when_the_installed_chromium_cannot_start(monkeypatch, tmp_path):
    # given an "installed" Chromium that exits at once (as one without its sandbox's namespaces does)
    monkeypatch.setenv("CREDIT_POINTS_CHROMIUM_PATH", shutil.which("false") or "/bin/false")
    assert resolve_engine("auto") == "chromium"
    # when a PDF is printed under auto
    path = tmp_path / "fallback.pdf"
    path.write_bytes(html_to_pdf("<p>fallback</p>", engine="auto"))
    # then WeasyPrint printed it, and the printer keeps the reason it gave up on Chromium (also logged)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "WeasyPrint" in info
    assert "fallback" in _text(path.read_bytes(), tmp_path)
    failure = pdf_module._printer().start()
    assert isinstance(failure, PdfError) and "could not start" in str(failure)


@needs_poppler
def test_worker_processes_print_with_the_engine_the_batch_chose(
    trained_model, decided, tmp_path, monkeypatch
):
    # given a batch told to print with WeasyPrint while the environment says auto (Chromium where installed)
    from credit_points.pipelines.models import load_engine

    monkeypatch.setenv("CREDIT_POINTS_PDF_ENGINE", "auto")
    _, resolved = load_engine(f"models:/credit-points/{trained_model.version}")
    records = decided.records[:2]
    # when two worker processes render them (their environment is their start-up's, not the batch's)
    batch = render_batch(records, tmp_path, formats=("pdf",), langs=("en",), model_uri=resolved.bundle_dir,
                         workers=2, pdf_engine="weasyprint")  # fmt: skip
    # then each PDF was printed by the engine the batch chose
    assert batch.failed == [] and len(batch.paths) == 2
    for path in batch.paths:
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert "WeasyPrint" in info, info


@needs_chromium
@needs_poppler
def test_threads_printing_at_once_share_one_browser(tmp_path):
    # given a printer whose browser is not running yet (closed, as after a crash)
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    printer = _printer_whose_browser_died()
    chromium = printer._playwright.chromium
    launches = []
    real_launch = chromium.launch

    async def counted(**kwargs):
        launches.append(kwargs["executable_path"])
        await asyncio.sleep(0.2)  # a slow start: the other threads arrive meanwhile
        return await real_launch(**kwargs)

    chromium.launch = counted
    try:
        # when four request threads print at the same moment
        with ThreadPoolExecutor(4) as pool:
            pdfs = list(pool.map(lambda k: html_to_pdf(f"<p>request {k}</p>", engine="chromium"), range(4)))
    finally:
        del chromium.launch
    # then each got its own document, and one browser was started for all of them
    for k, pdf in enumerate(pdfs):
        assert f"request {k}" in _text(pdf, tmp_path)
    assert len(launches) == 1
    assert printer._browser.is_connected()
