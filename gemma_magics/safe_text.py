"""The one rendering rule for model text (design.md, "Model text is untrusted input").

An answer can contain anything a prompt smuggled in, and JupyterLab trusts the outputs of
executed cells, so every view (the ``%%gemma`` cell, the live grid, the tables, the panel,
chats) shows model text through this module:

* **cleaned** — Gemma's multimodal marker tokens (``<start_of_image>``...) are removed: the
  local model's detokenizer renders them as text although they are control tokens. Turn
  markers (``<start_of_turn>``) stay: llama.cpp already drops them, and a hosted answer that
  writes one is explaining the template;
* **HTML-escaped** — no tag, attribute or handler in an answer reaches the DOM;
* **pre-wrap** — line breaks and runs of spaces are kept, so what is copied is what the
  model wrote;
* **no math** — JupyterLab typesets ``$…$`` and ``\\(…\\)`` in HTML and Markdown outputs
  alike; the container carries MathJax's ignore classes (``tex2jax_ignore`` for MathJax 3,
  ``mathjax_ignore`` for MathJax 4), so ``$3.50 and $4.00`` stays text.
"""

from __future__ import annotations

import html
import re

from .palette import MUTED

#: Put on every container of untrusted text: MathJax 3 and 4 skip what is inside.
NO_MATH = "tex2jax_ignore mathjax_ignore"
#: Control tokens of Gemma vocabularies that detokenize to visible text.
CONTROL_TOKENS = ("<start_of_image>", "<end_of_image>", "<image_soft_token>",
                  "<start_of_audio>", "<end_of_audio>", "<audio_soft_token>")
_CONTROL = re.compile("|".join(map(re.escape, CONTROL_TOKENS)))
TEXT_STYLE = ("white-space:pre-wrap;overflow-wrap:anywhere;margin:0;"
              "font-family:var(--jp-content-font-family, sans-serif)")


def clean(text: str | None) -> str:
    """``text`` without Gemma's marker tokens (what every view shows and copies)."""
    return _CONTROL.sub("", text or "")


def escape(text: str | None) -> str:
    """Cleaned and HTML-escaped, quotes included (safe in element content and attributes)."""
    return html.escape(clean(text), quote=True)


def model_text_html(text: str | None, *, cls: str = "gm-text", style: str = TEXT_STYLE) -> str:
    """Model text as an HTML block: escaped, line breaks kept, never typeset as math."""
    return f'<div class="{cls} {NO_MATH}" style="{style}">{escape(text)}</div>'


def line_html(text: str | None, color: str, size: str = "0.85em") -> str:
    """A one-line message (notice, error, footer) that may quote model or server text."""
    return (f'<div class="{NO_MATH}" style="color:{color};font-size:{size};'
            f'white-space:pre-wrap">{html.escape(text or "", quote=True)}</div>')


def text_bundle(text: str | None) -> dict[str, str]:
    """The MIME bundle of the default ``literal`` format: escaped HTML and plain text."""
    shown = clean(text)
    return {"text/html": model_text_html(shown), "text/plain": shown}


_MARKDOWN_ESCAPES = {"&": "&amp;", "<": "&lt;", "$": "&#36;", "\\": "&#92;"}
_MARKDOWN_SPECIAL = re.compile(r"[&<$\\]")


def markdown_source(text: str | None) -> str:
    """Model text for a ``text/markdown`` output (``-f markdown``, an opt-in): Markdown
    formatting applies, but ``<`` and ``&`` cannot start a tag or entity, and ``$`` and
    ``\\`` cannot start math (JupyterLab pulls math out of the source before rendering);
    the wrapper keeps MathJax off what the page ends up with. Inside code spans the
    entities show as written: use ``-f code`` for code."""
    body = _MARKDOWN_SPECIAL.sub(lambda m: _MARKDOWN_ESCAPES[m.group()], clean(text))
    return f'<div class="{NO_MATH}">\n\n{body}\n\n</div>'


def code_markdown(text: str | None, lang: str = "") -> str:
    """A fenced code block that no run of backticks in ``text`` can close early (``text``
    as given: ``--template`` shows Gemma's tokens on purpose; callers clean model text)."""
    shown = text or ""
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{shown}\n{fence}"


def thinking_html(text: str | None) -> str:
    """A thinking model's reasoning as a collapsed ``<details>`` section (escaped like any
    model text: only the summary line is ours)."""
    return (f'<details class="gm-thinking {NO_MATH}" style="margin:0 0 0.4em 0;color:{MUTED}">'
            '<summary style="cursor:pointer;font-size:0.85em">thinking</summary>'
            f"{model_text_html(text, cls='gm-thinking-text')}</details>")


def thinking_bundle(text: str | None) -> dict[str, str]:
    """The MIME bundle of the thinking section shown above an answer."""
    return {"text/html": thinking_html(text), "text/plain": f"[thinking]\n{clean(text)}"}


_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """``text`` as valid Unicode: a surrogate pair split in two (an emoji cut between two
    stream frames, each decoded alone) is joined back; a lone surrogate becomes U+FFFD.
    Applied where text enters (the prompt, the assembled answer) and where it is stored,
    since UTF-8 (HTTP bodies, SQLite, the tokenizer) cannot encode a lone surrogate."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
