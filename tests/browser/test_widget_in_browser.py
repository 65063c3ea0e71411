"""The progress widget in a real JupyterLab, driven by headless Chromium through Playwright.

JupyterLab runs on 127.0.0.1 with a random port, a token and a temporary root directory. The
notebook starts a ``pyarrow.flight`` test server in its own kernel, reads the ``slow`` flight
(10 000 rows, about 5 s) with ``progress=True`` and the test watches the DOM: the live widget
appears, then the cell keeps a static summary, which is also in the saved ``.ipynb``.

The browser tools are required, not optional: a missing Chromium or Playwright fails the
test (CI installs them with ``scripts/install-browser.sh``). ``FLIGHTNB_UPDATE_SCREENSHOTS=1``
copies the screenshot of the live widget to ``docs/images/progress-widget.png``.
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
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
TESTS_DIR = REPO / "tests"
DOCS_SCREENSHOT = REPO / "docs" / "images" / "progress-widget.png"

SERVER_START_SECONDS = 90
PAGE_LOAD_MS = 120_000
WIDGET_APPEARS_MS = 90_000
READ_FINISHES_MS = 60_000
RUN_ATTEMPTS = 4
KERNEL_SETTLES_SECONDS = 60
KERNEL_STABLE_SECONDS = 2
RUN_TAKEN_SECONDS = 10
RUN_CLICK_MS = 10_000

pytestmark = pytest.mark.timeout(420)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _notebook() -> dict[str, Any]:
    cells = [
        # The kernel serves the flights itself: the notebook is self-contained.
        f"import sys\nsys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from flight_servers import FlightTestServer, populate\n"
        "server = FlightTestServer()\npopulate(server)",
        "from flightnb import read_flight\n"
        'table = read_flight(server.location, path="slow", progress=True)',
        'print("rows read:", table.num_rows)\nserver.shutdown()',
    ]
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _require_browser_tools() -> Any:
    """Playwright's sync API; fails (never skips) when the browser tools are missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[dev]'", pytrace=False)
    for module in ("jupyterlab", "ipykernel", "ipywidgets"):
        try:
            __import__(module)
        except ImportError:
            pytest.fail(f"{module} is missing: pip install -e '.[dev]'", pytrace=False)
    return sync_playwright


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server: yields (base URL with token, notebook root); always stopped."""
    root = tmp_path / "root"
    root.mkdir()
    home = tmp_path / "jupyter"
    port = _free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
        # The kernel must run on this interpreter (the venv) to import flightnb.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--allow-root",  # CI containers run as root
        "--ServerApp.terminals_enabled=False",
        # Nothing may reach the network: no news, no update check, no PyPI extension manager.
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    # No "official Jupyter news?" toast over the notebook (it would be in the screenshots).
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = (tmp_path / "jupyterlab.log").open("wb")
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited early; see {tmp_path / 'jupyterlab.log'}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s")
                time.sleep(0.5)
        yield f"{base}/lab/tree/progress.ipynb?token={token}", root
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop JupyterLab (it shuts its kernels down), then kill its session if anything stays."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # The kernel is a child in the same session; make sure nothing of ours survives.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=10)


def _run_all_cells(page: Any) -> None:
    """Run > Run All Cells, again if the kernel's websocket was not connected yet.

    The status bar can say "Idle" a moment before the kernel connection is up, and a run
    requested then is dropped; a queued or finished first cell shows the run was taken.
    """
    first_prompt = page.locator(".jp-Cell").first.locator(".jp-InputPrompt")
    dialog_accept = page.locator(".jp-Dialog .jp-mod-accept")
    for _ in range(RUN_ATTEMPTS):
        _accept_kernel_dialog(dialog_accept)
        page.get_by_role("menuitem", name="Run", exact=True).click(timeout=RUN_CLICK_MS)
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=RUN_CLICK_MS)
        deadline = time.monotonic() + RUN_TAKEN_SECONDS
        while time.monotonic() < deadline:
            _accept_kernel_dialog(dialog_accept)
            if re.search(r"\[(\*|\d+)\]", first_prompt.inner_text()):
                return
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not run the cells after {RUN_ATTEMPTS} attempts")


def _kernels(url: str) -> list[dict[str, Any]] | None:
    """The server's running kernels (``/api/kernels``), asked with the page URL's token.

    None when the server answers with an error of its own (5xx): Jupyter's kernel list can
    fail while a kernel it lists is being replaced, which is the moment this is polled for.
    """
    parts = urllib.parse.urlsplit(url)
    api = f"{parts.scheme}://{parts.netloc}/api/kernels?{parts.query}"
    try:
        with urllib.request.urlopen(api, timeout=5) as response:
            kernels: list[dict[str, Any]] = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            return None
        raise
    return kernels


def wait_for_settled_kernel(page: Any, url: str) -> None:
    """Wait until the notebook has one kernel, connected, idle and unchanged for a moment.

    While it opens a notebook JupyterLab sometimes starts a kernel, replaces it once or twice
    (and may ask which kernel to use); a run requested meanwhile can reach a kernel that is
    then shut down, so a later cell finds none of the setup's variables.
    """
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    deadline = time.monotonic() + KERNEL_SETTLES_SECONDS
    stable_since, kernel_id = time.monotonic(), None
    while time.monotonic() < deadline:
        _accept_kernel_dialog(accept)
        kernels = _kernels(url)
        ready = (
            kernels is not None
            and len(kernels) == 1
            and kernels[0].get("connections", 0) >= 1
            and kernels[0].get("execution_state") == "idle"
        )
        current = kernels[0]["id"] if ready and kernels else None
        if current is None or current != kernel_id:
            stable_since, kernel_id = time.monotonic(), current
        elif time.monotonic() - stable_since >= KERNEL_STABLE_SECONDS:
            return
        time.sleep(0.25)
    pytest.fail(f"the notebook's kernel did not settle within {KERNEL_SETTLES_SECONDS} s")


def _accept_kernel_dialog(accept: Any) -> None:
    """Sometimes JupyterLab asks which kernel to use although the notebook names one."""
    if accept.count() and accept.first.is_visible():
        accept.first.click(timeout=RUN_CLICK_MS)


def test_widget_shows_live_progress_then_keeps_a_summary(
    jupyterlab: tuple[str, Path], tmp_path: Path
) -> None:
    sync_playwright = _require_browser_tools()
    url, root = jupyterlab
    notebook = root / "progress.ipynb"
    notebook.write_text(json.dumps(_notebook(), indent=1))
    live_png = tmp_path / "progress-widget.png"
    final_png = tmp_path / "progress-summary.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.set_default_timeout(PAGE_LOAD_MS)
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_LOAD_MS)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=PAGE_LOAD_MS)
            # The kernel has started once its status says idle.
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=PAGE_LOAD_MS
            )

            wait_for_settled_kernel(page, url)
            _run_all_cells(page)

            widget = page.wait_for_selector(".flightnb-progress", timeout=WIDGET_APPEARS_MS)
            assert widget is not None
            # Let some rows arrive so the picture shows a moving bar.
            page.wait_for_function(
                "() => { const w = document.querySelector('.flightnb-progress');"
                " const m = w && w.innerText.match(/(\\d+)%/);"
                " return m && Number(m[1]) >= 30 && w.innerText.includes('ETA'); }",
                timeout=WIDGET_APPEARS_MS,
            )
            live_text = widget.inner_text()
            assert "read slow" in live_text
            assert "Cancel" in live_text
            assert "total" in live_text and "%" in live_text
            widget.screenshot(path=str(live_png))

            summary = page.wait_for_selector(
                ".flightnb-summary.flightnb-done", timeout=READ_FINISHES_MS
            )
            assert summary is not None
            summary_text = summary.inner_text()
            assert "10,000 rows" in summary_text and "done" in summary_text
            # The live widget is gone: the cell keeps only the static summary.
            assert page.query_selector(".flightnb-progress") is None
            page.wait_for_function(
                "() => document.body.innerText.includes('rows read: 10000')",
                timeout=READ_FINISHES_MS,
            )
            page.locator(".jp-Cell").nth(1).screenshot(path=str(final_png))

            # Saved, the notebook keeps the summary (widget state is not saved).
            page.keyboard.press("Control+s")
            deadline = time.monotonic() + 30
            while "flightnb-summary" not in notebook.read_text():
                assert time.monotonic() < deadline, "the notebook was not saved with the summary"
                time.sleep(0.5)
        except BaseException:
            # What the page looked like when it failed, next to JupyterLab's log.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure.png"))
                (tmp_path / "failure.txt").write_text(page.inner_text("body"))
            raise
        finally:
            browser.close()

    saved = json.loads(notebook.read_text())
    outputs = [o for cell in saved["cells"] for o in cell.get("outputs", [])]
    html = ["".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    assert any("flightnb-done" in h and "10,000 rows" in h for h in html)
    assert live_png.stat().st_size > 0 and final_png.stat().st_size > 0
    if os.environ.get("FLIGHTNB_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(live_png, DOCS_SCREENSHOT)
