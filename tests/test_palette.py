"""Every text colour meets WCAG AA (4.5:1) in JupyterLab's light and dark themes and, without
JupyterLab's variables, on white; and every module takes its text colours from
``gemma_magics.palette`` (issue 18 item 12).

The theme values are read from the installed JupyterLab's own theme CSS, and the palette's
CSS (``var()`` with fallbacks, ``color-mix(in srgb, ...)``, ``rgba``) is evaluated here the
way a browser does; ``tests/browser/test_theme_contrast.py`` measures the rendered page.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from gemma_magics import palette

PACKAGE = Path(palette.__file__).resolve().parent
TEXT_ROLES = ("TEXT", "MUTED", "ERROR", "WARN", "SUCCESS", "ACCENT")


# -- WCAG 2 contrast --------------------------------------------------------------------------


def relative_luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# -- a small evaluator of the CSS colour values the palette uses -----------------------------

NAMED = {"white": (255, 255, 255, 1.0), "black": (0, 0, 0, 1.0), "transparent": (0, 0, 0, 0.0)}


def split_args(body: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(body[start:i].strip())
            start = i + 1
    out.append(body[start:].strip())
    return out


def evaluate(value: str, variables: dict[str, str]) -> tuple[float, float, float, float]:
    """RGBA of a CSS colour value, resolving ``var()`` against ``variables``."""
    value = value.strip()
    if value.startswith("var("):
        name, *fallback = split_args(value[4:-1])
        if name in variables:
            return evaluate(variables[name], variables)
        assert fallback, f"{name} is undefined and has no fallback"
        return evaluate(fallback[0], variables)
    if value.startswith("color-mix("):
        space, first, second = split_args(value[10:-1])
        assert space == "in srgb", value
        first_colour, share = first.rsplit(" ", 1)
        p = float(share.rstrip("%")) / 100
        a, b = evaluate(first_colour, variables), evaluate(second, variables)
        alpha = a[3] * p + b[3] * (1 - p)
        if alpha == 0:
            return (0, 0, 0, 0.0)
        # premultiplied interpolation, as CSS Color 5 specifies
        rgb = tuple((a[i] * a[3] * p + b[i] * b[3] * (1 - p)) / alpha for i in range(3))
        return (*rgb, alpha)
    if value.startswith("rgba(") or value.startswith("rgb("):
        parts = [float(x) for x in value[value.index("(") + 1:-1].split(",")]
        return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)
    if value.startswith("#"):
        h = value[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0)
    return NAMED[value]


def over(fg: tuple[float, ...], bg: tuple[float, ...]) -> tuple[float, float, float]:
    """``fg`` composited over an opaque ``bg``."""
    a = fg[3]
    return tuple(fg[i] * a + bg[i] * (1 - a) for i in range(3))


def theme_variables(name: str) -> dict[str, str]:
    jupyterlab = pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    css = (Path(jupyterlab.__file__).parent / "themes" / "@jupyterlab" / f"theme-{name}-extension"
           / "index.css")
    if not css.is_file():
        pytest.skip(f"no {name} theme CSS in the installed JupyterLab ({css})")
    return dict(re.findall(r"(--[\w-]+):\s*([^;}]+)", css.read_text()))


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(palette.FALLBACK))
def test_every_fallback_colour_meets_aa_on_white(role):
    colour = evaluate(palette.FALLBACK[role], {})
    assert contrast(colour[:3], (255, 255, 255)) >= 4.5, (role, palette.FALLBACK[role])


@pytest.mark.parametrize("role", TEXT_ROLES)
def test_without_jupyterlab_variables_every_text_colour_meets_aa_on_white(role):
    colour = over(evaluate(getattr(palette, role), {}), (255, 255, 255))
    assert contrast(colour, (255, 255, 255)) >= 4.5, role


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("role", TEXT_ROLES)
def test_every_text_colour_meets_aa_in_jupyterlab_themes(theme, role):
    variables = theme_variables(theme)
    # output areas sit on the page (layout-color0) or on a cell/panel (layout-color1)
    for background_var in ("--jp-layout-color0", "--jp-layout-color1"):
        background = evaluate(variables[background_var], variables)[:3]
        text = over(evaluate(getattr(palette, role), variables), background)
        ratio = contrast(text, background)
        assert ratio >= 4.5, f"{role} on {theme} {background_var}: {ratio:.2f}:1"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_highlighted_cell_text_meets_aa_on_its_tint(theme):
    variables = theme_variables(theme)
    declarations = dict(d.split(":", 1) for d in palette.HIGHLIGHT_CELL.split(";"))
    for background_var in ("--jp-layout-color0", "--jp-layout-color1"):
        page = evaluate(variables[background_var], variables)[:3]
        tint = over(evaluate(declarations["background-color"], variables), page)
        text = over(evaluate(declarations[" color"], variables), tint)
        assert contrast(text, tint) >= 4.5, (theme, background_var)


def test_chart_colours_meet_aa_on_a_white_figure():
    for colour in (palette.CHART_INK, palette.CHART_MUTED, palette.CHART_ACCENT):
        assert contrast(evaluate(colour, {})[:3], (255, 255, 255)) >= 4.5, colour


HEX = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?\b")
#: A hex colour is allowed outside the palette only as a border or background.
NOT_TEXT = re.compile(r"(border|background)[\w-]*[\"']?\s*[:=(]\s*[\"']?[^;\"'{}]*$")


def hard_coded_text_colours(source: str) -> list[str]:
    lines = source.splitlines()
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING:
            continue
        prefix = lines[token.start[0] - 1][:token.start[1]]  # e.g. `border=` before the string
        for match in HEX.finditer(token.string):
            context = prefix + token.string[:match.start()]
            declaration = context[max(context.rfind(c) for c in ";{}") + 1:]
            if not NOT_TEXT.search(declaration):
                found.append(f"line {token.start[0]}: {match.group()}")
    return found


def test_the_checker_finds_hard_coded_text_colours():
    assert hard_coded_text_colours('x = f\'<div style="color:#888">\'\n')
    assert hard_coded_text_colours('ax.text(0, 0, "x", color="#888")\n')
    assert hard_coded_text_colours('CSS = """.a {color: #c5221f; font-size: 11px}"""\n')
    assert not hard_coded_text_colours('CSS = """.a {border: 1px solid var(--x, #ddd)}"""\n')
    assert not hard_coded_text_colours('box = {"border": "1px solid #ddd"}\n')
    assert not hard_coded_text_colours('w = Layout(border="1px solid #ddd")\n')
    assert not hard_coded_text_colours('CSS = """.h {border-bottom: 2px solid\n  var(--b, #ccc)}"""\n')
    assert not hard_coded_text_colours('s = "see issue #42"  # and #abc\n')


def test_no_module_outside_the_palette_hard_codes_a_text_colour():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        # the palette itself; the shareable HTML report is a stand-alone page with its own
        # white background and stylesheet (its colours are checked below), not themed output
        if relative in ("palette.py", "verification/report.py"):
            continue
        found = hard_coded_text_colours(path.read_text())
        if found:
            offenders[relative] = found
    assert not offenders, f"text colours not from gemma_magics.palette: {offenders}"


def test_the_stand_alone_report_text_meets_aa_on_its_white_page():
    from gemma_magics.verification.report import CSS

    colours = re.findall(r"(?<![-\w])color:(#[0-9a-fA-F]{3,6})", CSS)
    assert colours
    for colour in colours:
        assert contrast(evaluate(colour, {})[:3], (255, 255, 255)) >= 4.5, colour
