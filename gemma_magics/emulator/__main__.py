"""``python -m gemma_magics.emulator``: serve the emulator on loopback until idle.

Prints ``gemma_magics emulator ready at http://127.0.0.1:PORT`` once listening.
"""

from __future__ import annotations

import argparse

from .process import serve
from .settings import CF_USAGE_MODES, ERROR_STYLES, TEXT_SOURCES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gemma_magics.emulator", description=__doc__)
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    p.add_argument("--host", default="127.0.0.1", help="a loopback address")
    p.add_argument("--text-source", choices=TEXT_SOURCES, default="scripted")
    p.add_argument("--idle-timeout", type=float, default=600.0,
                   help="stop after this many seconds without requests (0: never)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
    p.add_argument("--text", default=None, help="fixed answer text")
    p.add_argument("--answer-tokens", type=int, default=64,
                   help="words in the default scripted answer")
    p.add_argument("--error-style", choices=ERROR_STYLES, default="openai")
    p.add_argument("--error-style-for", action="append", default=[], metavar="FRAGMENT=STYLE",
                   help="error style for paths containing FRAGMENT (repeatable)")
    p.add_argument("--sse-comment", default=None, help='e.g. "OPENROUTER PROCESSING"')
    p.add_argument("--cf-usage", choices=CF_USAGE_MODES, default="last")
    p.add_argument("--cf-openai-chunks", action="store_true")
    p.add_argument("--first-byte-latency", type=float, default=0.0)
    p.add_argument("--per-token-latency", type=float, default=0.0)
    p.add_argument("--verbose", action="store_true", help="log method, path, status to stderr")
    a = p.parse_args(argv)
    styles = dict(item.partition("=")[::2] for item in a.error_style_for)
    try:
        serve(a.port, a.host, idle_timeout=a.idle_timeout, max_seconds=a.max_seconds,
              verbose=a.verbose, text_source=a.text_source, text=a.text,
              answer_tokens=a.answer_tokens, error_style=a.error_style, error_styles=styles,
              sse_comment=a.sse_comment, cf_usage=a.cf_usage,
              cf_openai_chunks=a.cf_openai_chunks, first_byte_latency=a.first_byte_latency,
              per_token_latency=a.per_token_latency)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
