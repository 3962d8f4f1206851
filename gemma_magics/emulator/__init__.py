"""A loopback HTTP server that speaks each provider's wire format, for tests, benchmarks and
offline demos, with scripted answers and fault injection.

In-process::

    from gemma_magics.emulator import Emulator, Fault
    with Emulator() as emu:
        emu.inject(Fault.preset("cf_capacity"), count=2)
        ...  # point a client at emu.base_url

Another process::

    python -m gemma_magics.emulator --port 8787        # prints its base URL when ready
    proc, url = start_emulator_process()               # same, from a test
    RemoteEmulator(url).inject({"status": 429})        # script it over /_emulator/*

Routes: Workers AI native ``/client/v4/accounts/{acct}/ai/run/{model}``, Cloudflare
``.../ai/v1/chat/completions``, Dataoorts ``/api/v1``, any ``.../chat/completions``
(OpenAI-compatible), any other ``.../completions`` (legacy text completions: raw prompts)
and ``GET .../models``. Requests are checked as the services would: image parts (base64
data URLs of an image type), tool specs, tool-call turns and the tool results answering
them, ``response_format`` shapes (see ``formats/shapes.py``); a bad one gets a 400.
"""

from .controller import Emulator
from .faults import PRESETS, Fault, retry_after_date
from .process import start_emulator_process
from .recording import RecordedRequest
from .remote import RemoteEmulator
from .settings import Settings

__all__ = [
    "PRESETS",
    "Emulator",
    "Fault",
    "RecordedRequest",
    "RemoteEmulator",
    "Settings",
    "retry_after_date",
    "start_emulator_process",
]
