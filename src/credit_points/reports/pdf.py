"""PDF from the report's self-contained HTML: headless Chromium, or WeasyPrint where there is no Chromium.

Chromium (``pdf_engine`` ``chromium`` or ``auto`` with a Chromium installed) prints with the engine that
draws the HTML report, so the PDF is laid out as the page a browser shows. One browser is started per
process on first use and kept: a print costs a page load and Chromium's own print, not a browser start.
Its pages print in parallel (:func:`htmls_to_pdfs`), in Chromium's own processes, so one Python process
fills the cores. Scripts and the network are off in the printing context: a report needs neither.

WeasyPrint is pure Python over Pango: no browser to install, about 2.5× slower per page on one core.

Both embed the glyphs they use (the CJK text extracts with ``pdftotext``): WeasyPrint as a subset of the
CJK font, Chromium as Type 3 glyph programs with a Unicode map (Skia embeds CFF-outline fonts such as
Noto Sans CJK that way).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from credit_points.exceptions import ConfigError, CreditPointsError

ENGINES: tuple[str, ...] = ("auto", "chromium", "weasyprint")
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: seconds one print may take before it is given up (a hung renderer must not hang a batch or a request)
PRINT_TIMEOUT_S = 120.0


class PdfError(CreditPointsError, RuntimeError):
    """A PDF could not be printed."""


# --------------------------------------------------------------------------------------- choosing
def chromium_executable(path: str | None = None) -> str | None:
    """The Chromium to print with: ``path`` (or the ``chromium_path`` setting) if given, else the first
    of chromium, chromium-browser, google-chrome on PATH; ``None`` when there is none."""
    if path is None:
        from credit_points.config import get_settings

        path = get_settings().chromium_path
    if path:
        return path if os.access(path, os.X_OK) else shutil.which(path)
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _playwright_installed() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str | None = None) -> str:
    """``chromium`` or ``weasyprint``: what ``engine`` (default: the ``pdf_engine`` setting) prints with here.

    Raises:
        ConfigError: an unknown engine, or ``chromium`` asked for where there is no Chromium or Playwright.
    """
    return _choose(engine)[1]


def _choose(engine: str | None) -> tuple[str, str, str | None]:
    """The engine asked for (the setting when ``None``), the engine that prints, and the Chromium executable
    when that is Chromium: the setting and PATH are read once per print."""
    if engine is None:
        from credit_points.config import get_settings

        engine = get_settings().pdf_engine
    if engine not in ENGINES:
        raise ConfigError(f"unknown PDF engine {engine!r}; expected one of {list(ENGINES)}")
    executable = None if engine == "weasyprint" or not _playwright_installed() else chromium_executable()
    if executable is None and engine == "chromium":
        raise ConfigError(
            "pdf_engine is chromium but no Chromium executable (chromium_path or chromium on PATH) or no "
            "playwright package is installed"
        )
    return engine, ("weasyprint" if executable is None else "chromium"), executable


# ------------------------------------------------------------------------------------------ print
def html_to_pdf(html: str, engine: str | None = None) -> bytes:
    """Render self-contained HTML (inline CSS and SVG) to PDF bytes with ``engine`` (default: the setting).

    Raises:
        PdfError: the print failed or timed out.
    """
    out = htmls_to_pdfs([html], engine=engine)[0]
    if isinstance(out, BaseException):
        raise out
    return out


def htmls_to_pdfs(
    htmls: Sequence[str], *, engine: str | None = None, concurrency: int | None = None
) -> list[bytes | PdfError]:
    """Print several documents, in input order; a document that fails is a :class:`PdfError` in its place.

    With Chromium, up to ``concurrency`` pages (default: the CPU count) print at once in this process's
    browser; WeasyPrint prints them one after another. Under ``auto``, a Chromium that is installed but
    cannot start here (a container without the namespaces its sandbox needs) is reported once in the log
    and WeasyPrint prints instead.
    """
    asked, _, executable = _choose(engine)
    if executable is not None:
        printer = _printer(executable)
        if asked == "chromium" or printer.start() is None:
            return printer.print_many(htmls, concurrency or os.cpu_count() or 1)
    out: list[bytes | PdfError] = []
    for html in htmls:
        try:
            out.append(_weasyprint(html))
        except Exception as exc:  # noqa: BLE001 - reported in the document's place
            out.append(PdfError(f"WeasyPrint could not print the report: {type(exc).__name__}: {exc}"))
    return out


@lru_cache(maxsize=1)
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _weasyprint(html: str) -> bytes:
    """Fonts come from fontconfig by the family names of the page's CSS (Noto Sans CJK SC first);
    WeasyPrint embeds the subset it uses, so the PDF reads the same without the font installed."""
    from weasyprint import HTML

    return bytes(HTML(string=html, base_url=None).write_pdf(font_config=_font_config()))


# ------------------------------------------------------------------------------------ the browser
class ChromiumPrinter:
    """One headless Chromium, driven by Playwright on its own thread and event loop, shared by every
    thread of the process (API request threads, a batch); started on first use, started again if it died.
    """

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chromium-printer", daemon=True)
        self._thread.start()
        self._playwright: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._pages: asyncio.Queue[Any] | None = None
        self._open_pages = 0
        self._limit = 1
        self._start_failure: PdfError | None = None
        self._starting = asyncio.Lock()  # two batches or requests arriving together start one browser

    def start(self) -> PdfError | None:
        """Start the browser now if it is not running: ``None`` when it runs, else why it could not start
        (remembered: a Chromium that cannot start here is not tried again by this process)."""
        if self._start_failure is None:
            try:
                asyncio.run_coroutine_threadsafe(self._ensure_browser(), self._loop).result(PRINT_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - returned to the caller, which decides
                self._start_failure = self._cannot_start(exc)
                logging.getLogger(__name__).warning("%s; PDFs print with WeasyPrint", self._start_failure)
        return self._start_failure

    def print_many(self, htmls: Sequence[str], concurrency: int = 1) -> list[bytes | PdfError]:
        if not htmls:
            return []
        future = asyncio.run_coroutine_threadsafe(
            self._print_all(list(htmls), max(1, concurrency)), self._loop
        )
        return future.result()

    def _cannot_start(self, exc: Exception) -> PdfError:
        return PdfError(f"Chromium ({self.executable}) could not start: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # closing at exit: a browser already gone is fine
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=15)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    # everything below runs on the printer's loop
    async def _print_all(self, htmls: list[str], concurrency: int) -> list[bytes | PdfError]:
        self._limit = max(self._limit, concurrency)
        try:
            await self._ensure_browser()
        except Exception as exc:  # noqa: BLE001 - every document gets the reason
            failed = self._cannot_start(exc)
            return [failed for _ in htmls]
        gate = asyncio.Semaphore(concurrency)

        async def one(html: str) -> bytes | PdfError:
            async with gate:
                return await self._print_one(html)

        return list(await asyncio.gather(*(one(h) for h in htmls)))

    async def _ensure_browser(self) -> None:
        async with self._starting:
            await self._start_browser()

    async def _start_browser(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            return
        from playwright.async_api import async_playwright

        if self._playwright is None:
            self._playwright = await async_playwright().start()
        args = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium will not start its sandbox as root (containers, CI)
        self._browser = await self._playwright.chromium.launch(executable_path=self.executable, args=args)
        self._context = await self._browser.new_context(java_script_enabled=False, offline=True)
        self._pages = asyncio.Queue()
        self._open_pages = 0

    async def _page(self) -> Any:
        assert self._pages is not None
        if self._pages.empty() and self._open_pages < self._limit:
            self._open_pages += 1
            return await self._context.new_page()
        return await self._pages.get()

    async def _print_one(self, html: str) -> bytes | PdfError:
        pages = self._pages
        page = await self._page()
        healthy = False
        try:
            timeout = PRINT_TIMEOUT_S * 1000
            await page.set_content(html, wait_until="load", timeout=timeout)
            pdf = await asyncio.wait_for(
                page.pdf(format="A4", print_background=True, prefer_css_page_size=True, tagged=True),
                PRINT_TIMEOUT_S,
            )
            healthy = True
            return bytes(pdf)
        except Exception as exc:  # noqa: BLE001 - reported in the document's place
            return PdfError(f"Chromium could not print the report: {type(exc).__name__}: {exc}")
        finally:
            if healthy and pages is self._pages and pages is not None:
                pages.put_nowait(page)
            else:  # a page that failed is not reused: the next print opens one in its place
                if pages is self._pages:
                    self._open_pages -= 1
                with contextlib.suppress(Exception):  # the browser may be gone; the next print restarts it
                    await page.close()

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            if self._browser is not None:
                await self._browser.close()
        with contextlib.suppress(Exception):
            if self._playwright is not None:
                await self._playwright.stop()
        self._browser = self._playwright = None


_PRINTERS: dict[tuple[int, str], ChromiumPrinter] = {}
_PRINTERS_LOCK = threading.Lock()


def _printer(executable: str | None = None) -> ChromiumPrinter:
    """This process's printer for ``executable`` (default: the configured Chromium); a forked child starts
    its own: a browser does not survive a fork."""
    executable = executable or chromium_executable()
    if executable is None:
        raise ConfigError("no Chromium executable to print with (chromium_path or chromium on PATH)")
    key = (os.getpid(), executable)
    with _PRINTERS_LOCK:
        printer = _PRINTERS.get(key)
        if printer is None:
            printer = _PRINTERS[key] = ChromiumPrinter(executable)
            atexit.register(printer.close)
        return printer
