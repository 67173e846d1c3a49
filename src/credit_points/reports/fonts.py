"""CJK fonts for reports: find Noto Sans CJK (Debian ``fonts-noto-cjk``) once, fall back gracefully.

WeasyPrint finds fonts through fontconfig by family name (the page's CSS lists Noto Sans CJK SC first) and
embeds the subset it uses; matplotlib needs the family registered with its font manager.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
)
_FILE_HINTS: tuple[str, ...] = ("NotoSansCJK", "NotoSerifCJK", "wqy-zenhei")


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """Path of an installed CJK font file (``None`` when there is none)."""
    from matplotlib import font_manager

    files = sorted(font_manager.findSystemFonts(fontext="ttf"))  # "ttf" covers .ttf, .otf and .ttc
    for hint in _FILE_HINTS:
        for name in files:
            if hint in Path(name).name and "Regular" in Path(name).name:
                return Path(name)
    for hint in _FILE_HINTS:
        for name in files:
            if hint in Path(name).name:
                return Path(name)
    return None


@lru_cache(maxsize=1)
def matplotlib_cjk_family() -> str | None:
    """Register the CJK font with matplotlib and return its family name (``None``: labels stay Latin-only)."""
    path = cjk_font_path()
    if path is None:
        return None
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(str(path))
        return str(font_manager.FontProperties(fname=str(path)).get_name())
    except (OSError, RuntimeError, ValueError):
        return None
