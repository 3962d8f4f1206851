"""The notebooks in a real JupyterLab, driven by Debian's Chromium through Playwright.

What a person sees is asserted, not what the kernel sends: the answer growing in the output
area across frames, the footer with token counts, the panel's sliders drawn as widgets, a
Run click producing output, the comparison grid fitting the page. Screenshots go to
``test-artifacts/browser/``; with ``GEMMA_MAGICS_DOCS_SCREENSHOTS=1`` the ones the README shows
are copied to ``docs/`` too.

JupyterLab runs on 127.0.0.1 on a free port with a token, in a temporary copy of
``notebooks/``, with its own record log, config, settings and workspace folders. It is shut
down at the end whatever happens, and dies with this process if this process is killed.

``GEMMA_MAGICS_BROWSER_TESTS=required`` (CI) turns a missing Chromium or Playwright into a
failure; otherwise they skip with the reason. Run ``pytest -m "not browser"`` to leave them out.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS = ROOT / "docs"
CHROMIUM = Path(os.environ.get("GEMMA_MAGICS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REQUIRED = os.environ.get("GEMMA_MAGICS_BROWSER_TESTS", "").strip().lower() == "required"
CREDENTIALS = (
    "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_AUTH_TOKEN",
    "DATAOORTS_API_KEY", "AIMLAPI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL",
    "OPENROUTER_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
)
#: JupyterLab settings for a quiet, predictable page: no news pop-up, every cell rendered.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason}, and GEMMA_MAGICS_BROWSER_TESTS=required", pytrace=False)
    pytest.skip(f"{reason} (set GEMMA_MAGICS_BROWSER_TESTS=required to make this an error)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Lab:
    """A JupyterLab server in a temporary folder."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.work = tmp / "notebooks"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in CREDENTIALS and not k.startswith("GEMMA_MAGICS_")}
        if os.environ.get("GEMMA_MAGICS_LOCAL_MODEL"):
            env["GEMMA_MAGICS_LOCAL_MODEL"] = os.environ["GEMMA_MAGICS_LOCAL_MODEL"]
        env.update({
            "GEMMA_MAGICS_DB": str(self.tmp / "history.sqlite"),
            "GEMMA_MAGICS_CONFIG": str(self.tmp / "config.toml"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.tmp / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.tmp / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self) -> None:
        shutil.copytree(NOTEBOOKS, self.work,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        for name, value in LAB_SETTINGS.items():
            path = self.tmp / "lab-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.work}", "--ServerApp.open_browser=False",
        ]
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                                     cwd=self.work, start_new_session=True,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.api("GET", "/api/status").get("started"):
                    return
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within 90 s:\n{self.log_tail()}")

    def api(self, method: str, path: str) -> dict:
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=5) as resp:
            body = resp.read()
        return json.loads(body) if body else {}

    def url(self, notebook: str) -> str:
        return f"{self.base}/doc/tree/{notebook}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Shut down kernels and server: politely over the API, then by signal."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(Exception):
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        with contextlib.suppress(Exception):
            self.api("POST", "/api/shutdown")
        for sig, wait in ((None, 10), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
                return


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed ([test] extra)")
    pytest.importorskip("llama_cpp", reason="the [local] extra is not installed")
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
    assert server.proc is not None and server.proc.poll() is not None, \
        "JupyterLab is still running after shutdown"


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Python Playwright is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                  device_scale_factor=1)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(60_000)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is None or failed.failed:
        with contextlib.suppress(Exception):
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"))
    context.close()


# -- driving a notebook ---------------------------------------------------------------------


class Notebook:
    """A notebook open in JupyterLab, run one cell at a time as a person would."""

    def __init__(self, page, lab: Lab, name: str):
        self.page = page
        self.name = name
        source = json.loads((lab.work / name).read_text())
        self.ids = [c["id"] for c in source["cells"]]
        # cells that fail on purpose to show an error message
        self.expected_errors = {c["id"] for c in source["cells"]
                                if "raises-exception" in c["metadata"].get("tags", [])}
        page.goto(lab.url(name))
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n",
            arg=len(self.ids), timeout=90_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-StatusBar-Item')]"
            ".some(e => /\\| Idle/.test(e.innerText))", timeout=90_000)
        # more room for the notebook: close the file browser if it is open
        browser_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if browser_tab.count():
            browser_tab.first.click()
        self.cells = page.locator(".jp-Notebook .jp-Cell")
        self.next = 0  # index of the cell the next start() executes

    def cell(self, ref: int | str):
        index = ref if isinstance(ref, int) else self.ids.index(ref)
        return self.cells.nth(index)

    def prompt(self, ref: int | str) -> str:
        return self.cell(ref).locator(".jp-InputArea-prompt").first.inner_text().strip()

    def output_text(self, ref: int | str) -> str:
        area = self.cell(ref).locator(".jp-OutputArea")
        return area.first.inner_text() if area.count() else ""

    def start(self) -> int:
        """Shift+Enter on the next cell; returns its index without waiting."""
        index = self.next
        # a click left of the cell's content selects it (in command mode) without editing
        self.cell(index).click(position={"x": 30, "y": 6})
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Shift+Enter")
        self.next = index + 1
        return index

    def wait(self, index: int, timeout_s: float = 180) -> None:
        """Until a code cell has finished (its prompt shows a number)."""
        if "jp-CodeCell" not in (self.cell(index).get_attribute("class") or ""):
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if re.fullmatch(r"\[\d+\]:", self.prompt(index)):
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: cell {self.ids[index]} still running after "
                             f"{timeout_s:.0f} s; output so far:\n{self.output_text(index)}")

    def run_until(self, cell_id: str) -> None:
        """Run every cell up to, not including, ``cell_id``."""
        stop = self.ids.index(cell_id)
        while self.next < stop:
            index = self.start()
            self.wait(index)
            self.check_no_error(index)

    def check_no_error(self, index: int) -> None:
        cell = self.cell(index)
        tags = cell.get_attribute("class") or ""
        if "jp-CodeCell" not in tags:
            return
        # JupyterLab draws stderr and tracebacks with the same renderer
        errors = cell.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        text = "\n".join(errors.all_inner_texts())
        if self.ids[index] in self.expected_errors:
            assert "Error" in text, f"cell {self.ids[index]} should show its error"
        else:
            assert "Traceback" not in text and "Error:" not in text, \
                f"{self.name}: cell {self.ids[index]} failed:\n{text}"

    def sample_while_running(self, index: int, read, timeout_s: float = 120):
        """Call ``read()`` every ~100 ms until the cell finishes; returns the samples."""
        samples = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            samples.append((time.monotonic(), read()))
            if re.fullmatch(r"\[\d+\]:", self.prompt(index)):
                break
            time.sleep(0.1)
        samples.append((time.monotonic(), read()))
        return samples


def shoot(locator_or_page, name: str, docs_name: str | None = None) -> Path:
    path = ARTIFACTS / name
    locator_or_page.screenshot(path=str(path))
    if docs_name and os.environ.get("GEMMA_MAGICS_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / docs_name)
    return path


def growing(values: list[str]) -> list[str]:
    """Distinct non-empty values in order of appearance."""
    out: list[str] = []
    for value in values:
        if value and (not out or value != out[-1]):
            out.append(value)
    return out


# -- the tests ------------------------------------------------------------------------------


def test_quickstart_streams_into_the_output_area(page, lab):  # browser first: a skip costs nothing
    nb = Notebook(page, lab, "quickstart.ipynb")
    nb.run_until("qs-04")
    index = nb.start()  # %%gemma --max-tokens 64 ...: loads the model, then streams
    answer = nb.cell(index).locator(".jp-OutputArea-output[data-mime-type='text/html'] .gm-text").first
    shot: list[Path] = []

    def read() -> str:
        text = answer.inner_text() if answer.count() else ""
        footer = "tokens · TTFT" in nb.output_text(index)
        if text.strip() and not footer and not shot and len(text) > 60:
            shot.append(shoot(nb.cell(index), "quickstart-streaming.png",
                              "streaming-in-progress.png"))
        return text

    samples = nb.sample_while_running(index, read)
    nb.wait(index)
    texts = growing([t.strip() for _, t in samples])
    assert len(texts) >= 3, f"the answer should grow over several frames, saw {texts!r}"
    for shorter, longer in zip(texts, texts[1:]):
        assert longer.startswith(shorter[: max(1, len(shorter) - 40)]), \
            "the streamed answer should grow, not be replaced"
    span = samples[-1][0] - samples[0][0]
    output = nb.output_text(index)
    footer = re.search(r"local · gemma-3-270m · \d+ → (\d+) tokens · "
                       r"(?:end of answer|cut at max_tokens \d+) · TTFT [\d.]+ s · [\d.]+ tok/s",
                       output)
    assert footer, f"no footer with token counts under the answer:\n{output}"
    assert 1 <= int(footer.group(1)) <= 64
    print(f"\nquickstart: answer grew over {len(texts)} distinct frames in {span:.1f} s; "
          f"footer: {footer.group(0)!r}")
    shoot(nb.cell(index), "quickstart-answer.png", "streaming.png")

    nb.run_until("qs-18")  # the rest of the notebook, error demo and history included
    second = re.search(r"local · gemma-3-270m · .*", nb.output_text("qs-07"))
    print(f"quickstart: second answer (not sampled): {second.group(0) if second else None!r}")
    history = nb.output_text("qs-12")
    assert "tokens_per_s" in history and "local" in history, history
    assert "out of range" in nb.output_text("qs-10")
    shoot(page, "quickstart-page.png")


def test_panel_renders_widgets_and_run_streams(page, lab):  # browser first: a skip costs nothing
    nb = Notebook(page, lab, "parameter_panel.ipynb")
    nb.run_until("pan-07")  # load, emulator, build and show the panel
    panel = nb.cell("pan-06").locator(".jupyter-widgets.widget-vbox").first  # the whole panel
    panel.locator(".widget-slider").first.wait_for()
    sliders = panel.locator(".jupyter-widgets.widget-slider")
    assert sliders.count() >= 5, f"expected a slider per setting, found {sliders.count()}"
    assert panel.locator(".widget-dropdown select").count() >= 2, "provider/model pickers"
    run_button = panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$"))
    assert run_button.count() == 1, "no Run button"
    text = nb.output_text("pan-06")
    assert "VBox(" not in text and "IntSlider(" not in text, "widgets shown as text"
    assert "model default" in text

    nb.run_until("pan-23")  # the cells that use the panel's settings, compare included
    used = nb.output_text("pan-12")
    assert re.search(r"max_tokens\s+48", used) and re.search(r"seed\s+7", used), used
    grid = nb.cell("pan-21").locator(".gmc-grid")
    grid.wait_for()
    index = nb.start()  # %gemma reset: the panel follows (back to local, 256 tokens)
    nb.wait(index)

    # now as a person: fewer tokens, a prompt, and a click on Run
    panel.scroll_into_view_if_needed()
    box = panel.locator(".widget-inline-hbox", has_text="max tokens").locator("input")
    box.fill("32")
    box.press("Enter")
    panel.locator("textarea[placeholder='prompt']").fill("The secret of a good notebook is")
    out = panel.locator(".widget-output")
    stats = panel.locator(".widget-html").last  # the stats line, under the buttons
    before = stats.inner_text()
    run_button.click()
    samples = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        samples.append(out.first.inner_text())
        footer = stats.inner_text()
        if footer != before and "tokens" in footer:
            break
        time.sleep(0.1)
    final = out.first.inner_text()
    assert final.strip(), "Run produced no output in the panel"
    assert re.search(r"local · gemma-3-270m · \d+ → \d+ tokens", footer), footer
    assert int(re.search(r"→ (\d+) tokens", footer).group(1)) <= 32, footer
    frames = growing([s.strip() for s in samples])
    print(f"\npanel Run: output grew over {len(frames)} frames; stats: {footer!r}")
    page.set_viewport_size({"width": 1280, "height": 1800})  # the panel, Run and Compare
    panel.scroll_into_view_if_needed()  # outputs included: taller than the default window
    shoot(panel, "panel.png", "panel.png")

    check = nb.cell("pan-12")  # the record of the Run click is in the log
    assert check.count() == 1


def grid_fits(grid) -> dict:
    """Widths in px: the grid's content, its box, and the cell's output area."""
    fit = grid.evaluate("g => ({content: g.scrollWidth, box: g.clientWidth,"
                        " area: g.closest('.jp-OutputArea').clientWidth})")
    assert fit["content"] <= fit["box"] + 1 and fit["box"] <= fit["area"], \
        f"the comparison grid does not fit the page (needs horizontal scrolling): {fit}"
    return fit


def test_comparison_grid_streams_and_fits(page, lab):  # browser first: a skip costs nothing
    nb = Notebook(page, lab, "compare_providers.ipynb")
    nb.run_until("cmp-09")
    index = nb.start()  # %%gemma_compare over 4 providers, 2 runs each
    grid = nb.cell(index).locator(".gmc-grid")
    shot: list[Path] = []

    def read() -> str:
        if not grid.count():
            return ""
        text = grid.first.inner_text()
        answers = " ".join(grid.first.locator(".gmc-text").all_inner_texts())  # not notices
        if not shot and "●" in text and re.search(r"\w{4,} \w{4,} \w{4,}", answers):
            shot.append(shoot(nb.cell(index), "compare-grid-live.png", "compare-live.png"))
        return text

    samples = nb.sample_while_running(index, read, timeout_s=240)
    nb.wait(index, 240)
    nb.check_no_error(index)
    top = nb.cell(index).locator(".gmc-top").first.inner_text()
    assert "8/8 done" in top, top
    assert grid.first.locator(".gmc-cell").count() == 8
    assert len(growing([t for _, t in samples])) >= 3, "the grid should update while running"
    fit = grid_fits(grid.first)
    shoot(grid.first, "compare-grid.png", "compare-grid.png")
    table = nb.cell(index).locator(".jp-OutputArea-output").filter(
        has_text="Answers side by side").first
    assert "median" in table.inner_text()
    shoot(table, "compare-side-by-side.png", "compare-table.png")
    print(f"\ncompare grid: 8 cells, {fit['content']} px wide in a {fit['area']} px output area")

    nb.run_until("cmp-23")  # cost table, charts, and the providers × settings grid
    charts = nb.cell("cmp-17").locator("img")
    assert charts.count() == 1 and charts.first.evaluate("i => i.naturalWidth") > 300
    shoot(nb.cell("cmp-17").locator(".jp-OutputArea").first, "compare-chart.png",
          "compare-chart.png")
    settings_grid = nb.cell("cmp-21").locator(".gmc-grid").first
    assert "8/8 done" in nb.cell("cmp-21").locator(".gmc-top").first.inner_text()
    grid_fits(settings_grid)
    shoot(settings_grid, "compare-settings-grid.png", "compare-settings-grid.png")


# -- model text is untrusted (design.md): every view shows it literally ----------------------

PAYLOAD = '<img src=x onerror="window.__pwned = (window.__pwned || 0) + 1">'
HOSTILE = (f"{PAYLOAD} first line\n1. tea costs $3.50 and $4.00\n2. second item"
           "<start_of_image>\n3. <b>not bold</b> & done")
SHOWN = HOSTILE.replace("<start_of_image>", "")


def write_notebook(path: Path, cells: list[tuple[str, ...]]) -> None:
    """Write an unexecuted notebook: each cell ``(id, source)`` (code) or
    ``(id, kind, source)``."""
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for cell_id, *rest in cells:
        kind, source = rest if len(rest) == 2 else ("code", rest[0])
        cell = {"id": cell_id, "cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        nb["cells"].append(cell)
    path.write_text(json.dumps(nb))


def hostile_notebook(path: Path) -> list[str]:
    """A notebook whose emulated providers all answer ``HOSTILE``; returns its cell ids."""
    setup = (
        "%load_ext gemma_magics\n"
        "import os\n"
        "import gemma_magics as gm\n"
        "from gemma_magics.emulator import Emulator\n"
        "emu = Emulator().start()\n"
        "emu.set_text(" + repr(HOSTILE) + ")\n"
        "emu.set_latency(per_token=0.03)\n"
        "os.environ.update(CLOUDFLARE_ACCOUNT_ID='demo', CLOUDFLARE_API_TOKEN='demo',\n"
        "                  AIMLAPI_API_KEY='demo',\n"
        "                  GEMMA_MAGICS_CLOUDFLARE_BASE_URL=emu.base_url,\n"
        "                  GEMMA_MAGICS_AIMLAPI_BASE_URL=emu.base_url + '/v1')\n"
        "%config GemmaMagics.default_provider = 'cloudflare'"
    )
    cells = [
        ("ut-md", "markdown", "Control: MathJax is on in this page: $x^2$"),
        ("ut-setup", "code", setup),
        ("ut-cell", "code", "%%gemma -p cloudflare --max-tokens 100\nRepeat the document."),
        ("ut-mdopt", "code", "%%gemma -p cloudflare -f markdown --max-tokens 100\nAgain."),
        ("ut-cmp", "code", "%%gemma_compare -p cloudflare,aimlapi --max-tokens 100 -o runs\n"
                           "Repeat the document."),
        ("ut-sbs", "code", "gm.side_by_side(runs)"),
        ("ut-panel", "code", "panel = gm.panel()\npanel"),
    ]
    write_notebook(path, cells)
    return [c[0] for c in cells]


def literal(locator, what: str) -> str:
    """The view shows the answer as text: the payload's characters, no <img>, no <b>, no
    MathJax element, and (checked by the caller) no handler run."""
    locator.first.wait_for()
    text = locator.first.inner_text()
    assert "<img src=x onerror=" in text, f"{what}: the markup is not shown literally:\n{text}"
    assert "$3.50 and $4.00" in text, f"{what}: the dollars are not shown literally:\n{text}"
    assert "<b>not bold</b>" in text and "<start_of_image>" not in text, text
    counts = locator.first.evaluate(
        "e => ({img: e.querySelectorAll('img[src=x]').length,"
        " b: [...e.querySelectorAll('b')].filter(b => b.innerText === 'not bold').length,"
        " math: e.querySelectorAll('mjx-container, .MathJax, math').length})")
    assert counts == {"img": 0, "b": 0, "math": 0}, f"{what}: rendered as HTML/math: {counts}"
    return text


def pwned(page) -> object:
    return page.evaluate("() => window.__pwned")


def test_hostile_answer_is_shown_literally_in_every_view(page, lab):
    hostile_notebook(lab.work / "untrusted.ipynb")
    nb = Notebook(page, lab, "untrusted.ipynb")
    control = nb.cell("ut-md").locator("mjx-container")
    control.first.wait_for(timeout=30_000)  # MathJax runs here: the checks below mean something
    nb.run_until("ut-panel")
    assert pwned(page) is None, "a handler in a model answer ran"

    # the %%gemma cell (default format) and its copy
    answer = nb.cell("ut-cell").locator(".gm-text")
    literal(answer, "%%gemma cell")
    copied = answer.first.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " const s = getSelection(); s.removeAllRanges(); s.addRange(r);"
        " const t = s.toString(); s.removeAllRanges(); return t; }")
    assert copied == SHOWN, f"the copied text differs from the answer:\n{copied!r}"
    lines = answer.first.evaluate("e => e.getClientRects()[0].height")
    assert lines > 3 * 14, "the answer's line breaks collapsed"
    shoot(nb.cell("ut-cell"), "untrusted-answer.png", "untrusted-answer.png")

    # -f markdown, the opt-in: formatted, still no markup or math of the answer
    literal(nb.cell("ut-mdopt").locator(
        ".jp-OutputArea-output[data-mime-type='text/markdown']"), "-f markdown")

    # the live grid of %%gemma_compare, and the side-by-side tables
    grid = nb.cell("ut-cmp").locator(".gmc-grid")
    for cell in range(grid.first.locator(".gmc-text").count()):
        literal(grid.first.locator(".gmc-text").nth(cell), f"grid cell {cell}")
    literal(nb.cell("ut-cmp").locator(".jp-OutputArea-output").filter(
        has_text="Answers side by side"), "side-by-side after the compare")
    literal(nb.cell("ut-sbs").locator(".jp-OutputArea-output"), "side_by_side()")

    # the panel's Run output
    index = nb.start()
    nb.wait(index)
    panel = nb.cell("ut-panel").locator(".jupyter-widgets.widget-vbox").first
    panel.locator("textarea[placeholder='prompt']").fill("Repeat the document.")
    stats = panel.locator(".widget-html").last
    panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Run\s*$")).click()
    deadline = time.monotonic() + 60
    while "tokens" not in stats.inner_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "cloudflare" in stats.inner_text(), stats.inner_text()
    literal(panel.locator(".widget-output .gm-text"), "panel Run output")

    assert pwned(page) is None, "a handler in a model answer ran"
    print(f"\nhostile answer: literal in cell, -f markdown, {grid.first.locator('.gmc-text').count()}"
          " grid cells, both side-by-side tables and the panel; window.__pwned undefined")
