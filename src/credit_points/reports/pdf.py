"""PDF from the report's HTML through WeasyPrint, with the CJK font embedded (subset) by fontconfig name."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def html_to_pdf(html: str) -> bytes:
    """Render self-contained HTML (inline CSS and SVG) to PDF bytes.

    Fonts come from fontconfig by the family names of the page's CSS (Noto Sans CJK SC first); WeasyPrint
    embeds the glyphs used, so the PDF reads the same without the font installed.
    """
    from weasyprint import HTML

    document = HTML(string=html, base_url=None)
    return bytes(document.write_pdf(font_config=_font_config()))
