"""%%gemma in a real Jupyter kernel, as a front end sees it."""

from __future__ import annotations

import datetime
import json
import threading

import pytest

pytest.importorskip("llama_cpp", reason="the [local] extra is not installed")
pytest.importorskip("ipykernel")

from kernel_client import Kernel  # noqa: E402


def _date(msg) -> datetime.datetime:
    """When the kernel made the message (jupyter_client gives a datetime or ISO text)."""
    date = msg["header"]["date"]
    return date if isinstance(date, datetime.datetime) else datetime.datetime.fromisoformat(date)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    db = tmp_path_factory.mktemp("kernel") / "history.sqlite"
    k = Kernel(env={"GEMMA_MAGICS_DB": str(db), "GEMMA_MAGICS_CONFIG": str(db.with_suffix(".toml"))})
    k.run("%load_ext gemma_magics")
    k.run("%%gemma --max-tokens 1\nwarm up")  # load the model once
    yield k
    k.close()


def test_streams_throttled_updates_with_footer(kernel):
    run = kernel.run(
        "%%gemma --max-tokens 256 --temperature 0.7 --seed 42 -o out\n"
        "The three most useful pandas functions are"
    )
    assert run.reply["content"]["status"] == "ok"
    updates = run.of_type("update_display_data")
    assert len(updates) >= 3, "the answer should grow in several updates"
    # The answer's own display (not the status line or the footer), timed by the kernel:
    # each message's header date is stamped when the kernel makes it, and the renderer
    # makes a throttled one only >= 1/20 s (its perf_counter) after the previous one was
    # made. So all but the final (forced) render lie >= 0.05 s apart, whatever the load:
    # n messages span >= 0.05 * (n - 2) s. Arrival times at this client would not do: a
    # busy machine delivers them in bunches.
    answer_id = updates[-1]["content"]["transient"]["display_id"]
    answer = [m for m in run.of_type("display_data", "update_display_data")
              if m["content"].get("transient", {}).get("display_id") == answer_id]
    assert answer[0]["msg_type"] == "display_data"
    dates = [_date(m) for m in answer]
    assert dates == sorted(dates)
    span = (dates[-1] - dates[0]).total_seconds()
    assert len(answer) <= 20 * (span + 0.001) + 2, f"{len(answer)} renders in {span:.2f} s"
    final = kernel.run("import json; print(json.dumps({'text': out.text, "
                       "'n': out.record.completion_tokens, 'status': out.record.status}))")
    result = json.loads(final.of_type("stream")[0]["content"]["text"])
    assert result["status"] == "ok"
    last_answer = updates[-1]["content"]["data"]["text/plain"]
    assert last_answer == result["text"], "the final render holds the complete text"
    assert f"→ {result['n']} tokens" in run.text()
    print(f"\n256-token answer: {len(answer)} renders over {span:.2f} s (kernel clock)")


def test_interrupt_keeps_partial_text_and_kernel_usable(kernel):
    started = threading.Event()

    def on_message(msg):
        if msg["msg_type"] == "update_display_data" and not started.is_set():
            started.set()
            threading.Timer(0.5, kernel.interrupt).start()

    run = kernel.run("%%gemma --max-tokens 4000 --seed 1 -o cut\nOnce upon a time",
                     on_message=on_message)
    assert run.reply["content"]["status"] == "error"
    assert run.reply["content"]["ename"] == "Interrupted"  # a KeyboardInterrupt, one line
    check = kernel.run(
        "import gemma_magics, json\n"
        "r = gemma_magics.history().iloc[-1]\n"
        "print(json.dumps({'status': r['status'], 'chars': len(r['response'])}))"
    )
    result = json.loads(check.of_type("stream")[0]["content"]["text"])
    assert result["status"] == "interrupted"
    assert result["chars"] > 0
    assert "interrupted" in run.text()
