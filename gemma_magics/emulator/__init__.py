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
(OpenAI-compatible) and ``GET .../models``.
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
