"""Answering one API request: record it, pick its fault, check auth, then answer in the
route's wire format (whole or streamed) with the fault applied."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from . import control, judge, routes, schemas
from .answer_book import book_answer
from .faults import Fault
from .formats import reasoning
from .formats.common import INVALID_JSON, ChatRequest, WireError, dumps, sse
from .formats.shapes import tool_rounds
from .recording import RecordedRequest, redact_headers
from .server import Exchange
from .settings import Settings
from .state import State
from .streaming import StreamFaults, write_stream
from .text import (
    Generation,
    count_words,
    schema_instance,
    scripted_generation,
    scripted_tokens,
    split_tokens,
)

JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"
FAULT_HEADER = "X-Emulator-Fault"


def parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return INVALID_JSON


def authorized(ex: Exchange, api_key: str | None) -> bool:
    scheme, _, token = (ex.header("Authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    return api_key is None or hmac.compare_digest(token.encode(), api_key.encode())


def think(req: ChatRequest, body: Any, route: str, settings: Settings) -> None:
    """Thinking on (per the provider's own field): reasoning tokens come first and count
    toward max_tokens; what is left is the answer's budget."""
    if not reasoning.requested(body):
        return
    req.reasoning = reasoning.reasoning_tokens(settings.reasoning_text,
                                               settings.reasoning_tokens)
    req.reasoning_field = reasoning.answer_field(body, route, settings.reasoning_field)
    if req.max_tokens is not None:
        req.reasoning = req.reasoning[:req.max_tokens]
        req.max_tokens -= len(req.reasoning)


def plan(req: ChatRequest, settings: Settings) -> routes.Outcome:
    """Decide what the answer is: tool calls, a JSON object, or generated text."""
    if req.tools and settings.tool_calls and tool_rounds(req.messages) < settings.tool_rounds:
        return routes.Outcome(Generation([]), tool_calls=settings.tool_calls)
    if req.json_mode:
        obj = settings.json_response
        if obj is None:
            obj = schema_instance(req.json_schema,
                                  scripted_tokens(settings.text, settings.answer_tokens))
        text = obj if isinstance(obj, str) else json.dumps(obj)
        return routes.Outcome(Generation(split_tokens(text)), json_obj=obj, is_json=True)
    if settings.text is None and judge.is_judge_prompt(req.prompt):
        return routes.Outcome(Generation(split_tokens(judge.verdict(req.prompt))))
    if settings.text_source == "local":
        from .local import local_generation

        return routes.Outcome(local_generation(req.prompt, req.max_tokens, req.sampling))
    return routes.Outcome(scripted_generation(settings.text, settings.answer_tokens,
                                              req.max_tokens))


class Responder:
    """The application callable given to the HTTP server."""

    def __init__(self, state: State) -> None:
        schemas.warm()  # the first request must not pay for building the validators
        self.state = state

    def __call__(self, ex: Exchange) -> None:
        self.state.begin()
        try:
            if ex.path == "/_emulator" or ex.path.startswith("/_emulator/"):
                control.handle(ex, self.state)
            else:
                self.api(ex)
        finally:
            self.state.end()

    def api(self, ex: Exchange) -> None:
        settings = self.state.settings
        body = parse_json(ex.body)
        record = self.state.log.add(RecordedRequest(
            method=ex.method, path=ex.path, query=ex.query,
            body=None if body is INVALID_JSON else body,
            raw_body=ex.body.decode("utf-8", "replace") if body is INVALID_JSON else None,
            headers=redact_headers(ex.header_items), peer=ex.peer))
        route = routes.match(ex.method, ex.path, settings)
        if route is None:
            msg = f"the emulator has no route for {ex.method} {ex.path}"
            ex.send(404, dumps({"error": {"message": msg, "type": "not_found"}}), JSON)
            return
        try:
            spec = ex.header(FAULT_HEADER)
            fault = Fault.from_dict(json.loads(spec)) if spec else None
        except (ValueError, TypeError) as exc:
            ex.send(400, dumps({"emulator_error": f"bad {FAULT_HEADER} header: {exc}"}), JSON)
            return
        fault = fault or self.state.faults.next_for(ex.path)
        if fault is not None:
            record.fault = fault.label
        try:
            _Answer(ex, route, fault, settings, self.state, body).run()
        finally:
            record.finished = time.time()


class _Answer:
    """One response, with its fault applied at each step."""

    def __init__(self, ex: Exchange, route: Any, fault: Fault | None, settings: Settings,
                 state: State, body: Any) -> None:
        self.ex, self.route, self.settings, self.state, self.body = ex, route, settings, state, body
        self.fault = fault or Fault()
        self.headers = dict(self.fault.headers)
        self.ctype = self.fault.content_type

    def send_json(self, status: int, obj: Any) -> None:
        self.ex.send(status, dumps(obj), self.ctype or JSON, self.headers)

    def run(self) -> None:
        f, ex = self.fault, self.ex
        if f.drop_connection:
            ex.abort()
            return
        if f.hang:
            self.state.sleep(f.hang)
            ex.abort()
            return
        delay = f.delay_before_first_byte
        if self.state.sleep(self.settings.first_byte_latency if delay is None else delay):
            ex.abort()
            return
        if self.settings.require_auth and not authorized(ex, self.settings.api_key):
            self.send_json(401, self.route.error(401))
            return
        if self.fault_response():
            return
        if isinstance(self.route, routes.ModelList):
            self.send_json(200, self.route.listing(self.settings))
            return
        try:
            req = self.route.parse(self.body, self.settings)
        except WireError as err:
            self.send_json(err.status, self.route.error(err.status, err.code, err.message))
            return
        think(req, self.body, self.route.name, self.settings)
        outcome = self.book_outcome(req) or plan(req, self.settings)
        try:
            if self.route.streams(req, outcome):
                self.stream(req, outcome)
            else:
                self.whole(req, outcome)
        finally:
            outcome.gen.close()

    def book_outcome(self, req: ChatRequest) -> routes.Outcome | None:
        """The answer book's answer (see ``answer_book.py``), if it has the question."""
        found = book_answer(req, self.settings, self.state.draws, self.ex.path)
        if found is None:
            return None
        text, calls = found
        if calls is not None:
            return routes.Outcome(Generation([]), tool_calls=calls)
        if not req.json_mode:
            return routes.Outcome(scripted_generation(text, 0, req.max_tokens))
        obj = parse_json(text.encode())
        return routes.Outcome(Generation(split_tokens(text)), is_json=True,
                              json_obj=text if obj is INVALID_JSON else obj)

    def fault_response(self) -> bool:
        """Send the fault's own response, if it has one."""
        f = self.fault
        if f.empty_body:
            self.ex.send(f.status or 200, b"", self.ctype or JSON, self.headers)
        elif f.success_false:
            self.send_json(f.status or 200, self.route.success_false(f.code, f.message))
        elif f.body is not None:
            if isinstance(f.body, (bytes, bytearray)):
                raw, ctype = bytes(f.body), "application/octet-stream"
            elif isinstance(f.body, str):
                raw, ctype = f.body.encode(), "text/plain; charset=utf-8"
            else:
                raw, ctype = dumps(f.body), JSON
            self.ex.send(f.status or 200, raw, self.ctype or ctype, self.headers)
        elif f.status is not None and f.status >= 400:
            self.send_json(f.status, self.route.error(f.status, f.code, f.message))
        else:
            return False
        return True

    def token_delay(self) -> float:
        d = self.fault.token_delay
        return self.settings.per_token_latency if d is None else d

    def whole(self, req: ChatRequest, outcome: routes.Outcome) -> None:
        tokens = list(outcome.gen)
        n = count_words(json.dumps(outcome.tool_calls)) if outcome.tool_calls else len(tokens)
        if self.state.sleep(self.token_delay() * n):
            self.ex.abort()
            return
        answer = self.route.answer(req, outcome, "".join(tokens), n, outcome.gen.finish_reason)
        raw = dumps(answer)
        if self.fault.cut_after is not None:
            self.ex.send_partial(200, raw, self.ctype or JSON, self.headers)
            return
        if self.fault.malformed_after is not None:
            raw = raw[: len(raw) // 2]
        self.ex.send(200, raw, self.ctype or JSON, self.headers)

    def stream(self, req: ChatRequest, outcome: routes.Outcome) -> None:
        f = self.fault
        faults = StreamFaults(cut_after=f.cut_after, malformed_after=f.malformed_after,
                              error_frame_after=f.error_frame_after,
                              error_frame=sse(self.route.error_frame(f.code, f.message)))
        self.ex.start_stream(200, self.ctype or SSE, self.headers)
        write_stream(self.ex, self.route.frames(req, outcome, self.settings),
                     delay=self.token_delay(), faults=faults, sleep=self.state.sleep,
                     comment=self.settings.sse_comment)
