"""Model text is untrusted input (design.md): every view shows an answer as text — HTML
escaped, no math typesetting, line breaks kept, Gemma's marker tokens dropped — by one rule
(``gemma_magics.safe_text``). The browser test checks the same in JupyterLab."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from gemma_magics import safe_text
from gemma_magics.comparisons import views
from gemma_magics.comparisons.gridstate import Cell, GridState
from gemma_magics.notebook import display
from gemma_magics.notebook.grid import grid_html
from gemma_magics.notebook.magics import GemmaMagics
from gemma_magics.records.log import Record, to_dataframe
from gemma_magics.workflows.chat import Chat

PAYLOAD = '<img src=x onerror="window.__pwned = 1">'
HOSTILE = f"{PAYLOAD}\n1. tea costs $3.50 and $4.00\n2. \\(x\\) <start_of_image>done & <b>"
SHOWN = HOSTILE.replace("<start_of_image>", "")  # what is displayed and copied


class Page(HTMLParser):
    """The elements of an HTML fragment, and each text run with its ancestors."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.runs: list[tuple[str, list[tuple[str, dict[str, str]]]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag not in ("br", "img", "input", "meta", "hr"):
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if data.strip():
            self.runs.append((data, list(self.stack)))

    @property
    def text(self) -> str:
        return "".join(data for data, _ in self.runs)


def check_page(fragment: str, *, css: str = "") -> Page:
    """No tag or handler of the answer reached the HTML; every ``$``/``\\(`` sits inside
    MathJax's ignore classes; the answer's newlines are kept in a pre-wrap element."""
    page = Page(fragment)
    assert "&lt;img src=x onerror=" in fragment
    assert "<img" not in fragment and "done &amp; &lt;b&gt;" in fragment
    assert all(tag != "img" for tag, _ in page.tags)
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert PAYLOAD in page.text and "<start_of_image>" not in page.text
    math = [(data, up) for data, up in page.runs if "$" in data or "\\(" in data]
    assert math, "the answer's $ is missing"
    for data, up in math:
        classes = " ".join(a.get("class", "") for _, a in up).split()
        assert {"tex2jax_ignore", "mathjax_ignore"} <= set(classes), f"typesettable: {data!r}"
    runs = [(d, up) for d, up in page.runs if "\n1. tea costs $3.50 and $4.00\n2." in d]
    assert runs, "the answer's line breaks were not kept"
    for _, up in runs:
        assert any("pre-wrap" in a.get("style", "") or
                   ("gmc-text" in a.get("class", "") and "pre-wrap" in css)
                   for _, a in up)
    return page


# -- the rule ---------------------------------------------------------------------------------


def test_the_rule_escapes_keeps_lines_and_stops_math():
    fragment = safe_text.model_text_html(HOSTILE)
    page = check_page(fragment)
    assert page.text == SHOWN
    assert safe_text.clean("a<start_of_image><end_of_image>b") == "ab"
    assert safe_text.clean("<start_of_turn>user") == "<start_of_turn>user"  # text, kept


def test_cell_default_format_is_literal_html_and_plain_text():
    assert GemmaMagics.class_traits()["format"].default_value == "literal"
    assert display.FORMATS[0] == display.DEFAULT_FORMAT == "literal"
    data = display.bundle(HOSTILE)
    assert set(data) == {"text/html", "text/plain"}  # no text/markdown: nothing renders it
    assert data["text/plain"] == SHOWN
    check_page(data["text/html"])


class FakeHandle:
    def __init__(self, sink):
        self.sink = sink

    def update(self, data, raw=True):
        self.sink.append(data)


def test_cell_every_streaming_update_is_escaped():
    shown: list[dict] = []

    def fake_display(data, raw=True, display_id=False):
        shown.append(data)
        return FakeHandle(shown)

    renderer = display.NotebookRenderer.__new__(display.NotebookRenderer)
    display.NotebookRenderer.__init__(renderer, max_rate=1e9)
    renderer._display = fake_display
    for piece in ("<img src=x ", 'onerror="window.__pwned = 1">', HOSTILE[len(PAYLOAD):]):
        renderer.text(piece)
    renderer._show(display.bundle("".join(renderer.parts), renderer.fmt))
    assert len(shown) >= 3
    for data in shown:
        assert "text/markdown" not in data
        assert "<img" not in data["text/html"]
    check_page(shown[-1]["text/html"])


def test_markdown_opt_in_never_runs_html_or_math():
    data = display.bundle(HOSTILE, "markdown")
    source = data["text/markdown"]
    body = source.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    assert "<" not in body and "$" not in body and "\\" not in body
    assert "&lt;img src=x onerror=" in body and "&#36;3.50" in body
    assert source.startswith('<div class="tex2jax_ignore mathjax_ignore">')
    assert data["text/plain"] == SHOWN


@pytest.mark.parametrize("fmt", ["text", "code", "json"])
def test_other_formats_keep_working(fmt):
    data = display.bundle(HOSTILE, fmt)
    assert data["text/plain"] == SHOWN
    if fmt == "code":
        fence = data["text/markdown"].split("\n", 1)[0]
        assert data["text/markdown"] == f"{fence}\n{SHOWN}\n{fence}"
    assert display.bundle('{"a": "$1 <b>"}', "json")["application/json"] == {"a": "$1 <b>"}
    long_fence = display.bundle("a ```` b", "code")["text/markdown"]
    assert long_fence.startswith("`````\n")


# -- the views --------------------------------------------------------------------------------


def hostile_state() -> GridState:
    cells = [Cell(i, v, 0, "Price list: $1 and $2", 0, "cloudflare", "m")
             for i, v in enumerate(["A <i>x</i>", "B"])]
    cells[0].parts = [HOSTILE[:20], HOSTILE[20:]]
    cells[1].parts = [HOSTILE]
    return GridState(cells)


def test_live_grid_uses_the_rule():
    fragment = grid_html(hostile_state())
    css = fragment[fragment.index("<style>"):fragment.index("</style>")]
    check_page(fragment.replace(css, ""), css=css)
    assert "<i>x</i>" not in fragment and "A &lt;i&gt;x&lt;/i&gt;" in fragment


def frame():
    def rec(variant, response):
        return Record(provider="cloudflare", model="@cf/google/gemma-3-12b-it",
                      prompt="Prices: $1 <u>and</u> $2", response=response, temperature=0.2,
                      ttft_s=0.1, latency_s=1.0, tokens_per_s=50.0, completion_tokens=20,
                      cost_usd=0.001, status="ok", variant=variant)

    return to_dataframe([rec("A <i>x</i>", HOSTILE), rec("B", "plain $5")])


def test_side_by_side_uses_the_rule():
    styler = views.side_by_side(frame())
    fragment = styler.to_html()
    assert "<u>" not in fragment and "<i>x</i>" not in fragment
    body = fragment[fragment.index("<table"):]
    assert body.startswith('<table id="') and "tex2jax_ignore mathjax_ignore" in body[:80]
    check_page(body)
    assert styler.data.iloc[0, 0] == HOSTILE  # the data itself is untouched


def test_summary_escapes_labels_and_keeps_math_off():
    fragment = views.styled_summary(frame()).to_html()
    assert "<i>x</i>" not in fragment and "A &lt;i&gt;x&lt;/i&gt;" in fragment
    assert 'class="tex2jax_ignore mathjax_ignore"' in fragment


def test_panel_run_output_uses_the_rule():
    class Output:
        outputs = ()

    out = Output()
    renderer = display.OutputRenderer(out)
    renderer.text(HOSTILE)
    renderer.finish()
    data = out.outputs[-1]["data"]
    assert "text/markdown" not in data and data["text/plain"] == SHOWN
    check_page(data["text/html"])


def test_chat_shows_turns_by_the_rule():
    chat = Chat("c", system="be $1 <b>", turns=[
        {"role": "user", "content": "price $3.50?"},
        {"role": "assistant", "content": HOSTILE}])
    assert not hasattr(chat, "_repr_markdown_")
    fragment = chat._repr_html_()
    assert "be $1 &lt;b&gt;" in fragment
    check_page(fragment)
    assert chat.to_text().endswith(SHOWN)


def test_notice_and_error_lines_escape_and_keep_math_off():
    line = display._line(f"HTTP 500: {HOSTILE}", "#c00")["text/html"]
    page = Page(line)
    assert "<img" not in line and PAYLOAD in page.text
    assert 'class="tex2jax_ignore mathjax_ignore"' in line
