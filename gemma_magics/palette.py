"""The colours of every text and marker gemma_magics draws, in one place.

Each text colour is a JupyterLab theme variable (so it follows the light, dark and any other
theme) with a fallback for front ends without those variables (classic Notebook, nbviewer,
exported HTML). JupyterLab's own status colours are too light on white (its light theme's
``--jp-warn-color1`` is 2.7:1, ``--jp-success-color1`` 4.1:1) and one is too dark on the dark
theme's cells (``--jp-error-color1`` 4.4:1 on #212121), so each is mixed a little towards the
theme's own text colour, black in a light theme and white in a dark one: that keeps the hue
and lifts every one past WCAG AA's 4.5:1 in both (``tests/test_palette.py`` checks the
fallbacks; ``tests/browser/test_theme_contrast.py`` measures the rendered page).

Charts are drawn by matplotlib on a white figure, so they take plain colours (``CHART_*``).
"""

from __future__ import annotations

#: Fallbacks: each meets 4.5:1 on white on its own.
FALLBACK = {
    "text": "#1f1f1f",
    "muted": "#595959",
    "error": "#c62828",
    "warn": "#8a4b00",
    "success": "#1e7e34",
    "accent": "#1967d2",
}


def _themed(variable: str, fallback: str, share: int) -> str:
    """``share`` % of a theme colour, the rest the theme's strongest text colour."""
    return (f"color-mix(in srgb, var({variable}, {fallback}) {share}%, "
            f"var(--jp-ui-font-color0, #000))")


#: Body text.
TEXT = f"var(--jp-ui-font-color1, {FALLBACK['text']})"
#: Footers, stats, hints, "model default" markers: secondary text, still 4.5:1.
MUTED = f"var(--jp-ui-font-color2, {FALLBACK['muted']})"
ERROR = _themed("--jp-error-color1", FALLBACK["error"], 80)
WARN = _themed("--jp-warn-color1", FALLBACK["warn"], 70)
SUCCESS = _themed("--jp-success-color1", FALLBACK["success"], 75)
#: Running, "set" by the user: the theme's brand blue.
ACCENT = _themed("--jp-brand-color1", FALLBACK["accent"], 80)
#: A highlighted table cell ("best value"): a faint tint of the success colour under it, so
#: it reads in a dark theme instead of glaring as a light box.
HIGHLIGHT_CELL = (f"background-color: color-mix(in srgb, var(--jp-success-color1, "
                  f"{FALLBACK['success']}) 14%, transparent); color: {SUCCESS}; font-weight: 600")

#: matplotlib colours (white figure background): ink, secondary text, the data colour.
CHART_INK = "#202124"
CHART_MUTED = FALLBACK["muted"]
CHART_ACCENT = FALLBACK["accent"]
