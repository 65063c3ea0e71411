"""The progress widget's Cancel button, clicked in a real JupyterLab (headless Chromium).

Two reads are cancelled from the browser while they stream (a 20 s flight, 200 batches of 50
rows with a 0.1 s pause before each):

* ``table = await flightnb.read_flight_async(..., progress=True)``: the cell awaits, and
  ipykernel (7+) dispatches widget messages while a cell awaits, so the click reaches the
  read; the cell fails with ``FlightCancelledError`` and the next cell runs.
* ``handle = %flight get --ticket ... --bg --progress``: the cell returns at once and the read
  runs on the kernel's event loop; the kernel is idle when the button is clicked, and a later
  cell sees ``handle.status`` as failed with ``FlightCancelledError``.

A blocking ``read_flight(...)`` cannot be cancelled with the button (the click waits behind
the read on the kernel's main thread); the interrupt button does it, see
``tests/notebook/test_kernel_interrupt.py``.

JupyterLab, the browser helpers and their rules (loopback, token, temporary root, the venv's
kernel, Chromium required rather than skipped) come from ``test_widget_in_browser``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import test_widget_in_browser as base

PAGE_LOAD_MS = 120_000
WIDGET_APPEARS_MS = 60_000
CANCEL_TAKES_MS = 5_000  # from the click to the cancelled summary (the read has ~20 s left)
CELL_RUNS_MS = 15_000
RUN_ATTEMPTS = 4
RUN_TAKEN_SECONDS = 10

# The fixture: JupyterLab on 127.0.0.1, always stopped (it yields the URL of progress.ipynb).
jupyterlab = base.jupyterlab

pytestmark = pytest.mark.timeout(300)

SETUP = (
    f"import sys\nsys.path.insert(0, {str(base.TESTS_DIR)!r})\n"
    "from flight_servers import FlightTestServer, populate\n"
    "import flightnb\n"
    "server = FlightTestServer()\npopulate(server)\n"
    "# 10 000 rows in 200 batches, 0.1 s before each: about 20 s of streaming.\n"
    'server.add_table("slow20", server.table("numbers"), max_chunksize=50, delay=0.1)'
)


def _notebook(cells: list[str]) -> dict[str, Any]:
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


def _open(url: str, root: Path, name: str, cells: list[str]) -> str:
    """Write notebook ``name`` in the server's root; its URL (the fixture's, renamed)."""
    (root / name).write_text(json.dumps(_notebook(cells), indent=1))
    assert "/lab/tree/progress.ipynb?" in url
    return url.replace("/lab/tree/progress.ipynb?", f"/lab/tree/{name}?")


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _prompt(page: Any, index: int) -> str:
    return str(_cell(page, index).locator(".jp-InputPrompt").inner_text())


def _run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` alone (click in it, Shift+Enter); retried if the run was dropped.

    Taken means the prompt shows ``[*]`` or a new execution count. A cell queued behind one
    that failed shows ``[*]`` until the kernel's abort reply arrives: wait for that first. A
    run requested just after a failure may be aborted too (stop_on_error): try again.
    """
    deadline = time.monotonic() + RUN_TAKEN_SECONDS
    while "[*]" in _prompt(page, index) and time.monotonic() < deadline:
        time.sleep(0.25)
    before = _prompt(page, index)
    for _ in range(RUN_ATTEMPTS):
        _cell(page, index).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + RUN_TAKEN_SECONDS
        while time.monotonic() < deadline:
            now = _prompt(page, index)
            if now != before and re.search(r"\[(\*|\d+)\]", now):
                return
            time.sleep(0.25)
    pytest.fail(f"JupyterLab did not run cell {index} after {RUN_ATTEMPTS} attempts")


def _wait_for_rows(page: Any, index: int) -> None:
    """Wait until the live widget of cell ``index`` counts more than 0 rows."""
    page.wait_for_function(
        "(index) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];"
        " const w = c && c.querySelector('.flightnb-progress');"
        " const m = w && w.innerText.match(/([\\d,]+) rows/);"
        " return m && Number(m[1].replace(/,/g, '')) > 0; }",
        arg=index,
        timeout=WIDGET_APPEARS_MS,
    )


def _click_cancel(page: Any, index: int) -> None:
    """Click the Cancel button of cell ``index``'s widget."""
    button = _cell(page, index).locator(".flightnb-progress button", has_text="Cancel")
    assert button.is_enabled(), "the Cancel button is disabled"
    button.click(timeout=CELL_RUNS_MS)


def _rows_of(summary_text: str) -> int:
    match = re.search(r"([\d,]+) rows", summary_text)
    assert match, summary_text
    return int(match.group(1).replace(",", ""))


@contextlib.contextmanager
def _browser_page(url: str, tmp_path: Path) -> Any:
    """A Chromium page on ``url`` with the kernel started; always closed.

    On failure, a screenshot and the page's text are left next to JupyterLab's log.
    """
    sync_playwright = base._require_browser_tools()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(base.CHROMIUM), args=base.CHROMIUM_ARGS, headless=True
        )
        page = None
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.set_default_timeout(PAGE_LOAD_MS)
            page.goto(url, wait_until="domcontentloaded", timeout=PAGE_LOAD_MS)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=PAGE_LOAD_MS)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=PAGE_LOAD_MS
            )
            base.wait_for_settled_kernel(page, url)
            yield page
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(tmp_path / "failure.png"))
                    (tmp_path / "failure.txt").write_text(page.inner_text("body"))
            raise
        finally:
            browser.close()


def test_cancel_button_cancels_an_awaited_read(
    jupyterlab: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = jupyterlab
    url = _open(
        url,
        root,
        "cancel_await.ipynb",
        [
            SETUP,
            'table = await flightnb.read_flight_async(server.location, ticket="slow20",'
            " progress=True)",
            'print("after", "table" in globals())',
        ],
    )
    with _browser_page(url, tmp_path) as page:
        # Run All runs the setup and the read; the last cell is aborted once the read fails.
        base._run_all_cells(page)
        _cell(page, 1).locator(".flightnb-progress").wait_for(timeout=WIDGET_APPEARS_MS)
        _wait_for_rows(page, 1)
        # The cell is still running (awaiting) when the button is clicked.
        assert "[*]" in _prompt(page, 1)
        _click_cancel(page, 1)  # the summary must then appear within CANCEL_TAKES_MS

        read_cell = _cell(page, 1)
        summary = read_cell.locator(".flightnb-summary.flightnb-cancelled")
        summary.wait_for(timeout=CANCEL_TAKES_MS)
        error = read_cell.locator(".jp-OutputArea-output", has_text="FlightCancelledError")
        error.first.wait_for(timeout=CANCEL_TAKES_MS)
        summary_text = summary.inner_text()
        assert "cancelled" in summary_text
        assert "cancelled from the progress display" in summary_text
        assert 0 < _rows_of(summary_text) < 10_000
        assert "cancelled from the progress display" in error.first.inner_text()
        # The live widget is gone, replaced by the summary.
        assert read_cell.locator(".flightnb-progress").count() == 0

        # The kernel goes on: the next cell runs (the read left no `table` behind).
        _run_cell(page, 2)
        _cell(page, 2).locator(".jp-OutputArea-output", has_text="after False").wait_for(
            timeout=CELL_RUNS_MS
        )


def test_cancel_button_cancels_a_background_read(
    jupyterlab: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = jupyterlab
    url = _open(
        url,
        root,
        "cancel_bg.ipynb",
        [
            SETUP + "\n%load_ext flightnb\n%flight connect {server.location}",
            "handle = %flight get --ticket slow20 --bg --progress\n"
            'print("started:", handle.status)',
            'print("status:", handle.status)',
        ],
    )
    with _browser_page(url, tmp_path) as page:
        base._run_all_cells(page)
        _cell(page, 1).locator(".flightnb-progress").wait_for(timeout=WIDGET_APPEARS_MS)
        status = _cell(page, 2).locator(".jp-OutputArea-output", has_text="status: running")
        status.wait_for(timeout=CELL_RUNS_MS)
        _wait_for_rows(page, 1)
        # Every cell has returned: the kernel is idle while the read goes on.
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=CELL_RUNS_MS
        )
        assert re.search(r"\[\d+\]", _prompt(page, 1)), _prompt(page, 1)
        _click_cancel(page, 1)  # the summary must then appear within CANCEL_TAKES_MS

        read_cell = _cell(page, 1)
        summary = read_cell.locator(".flightnb-summary.flightnb-cancelled")
        summary.wait_for(timeout=CANCEL_TAKES_MS)
        summary_text = summary.inner_text()
        assert "cancelled from the progress display" in summary_text
        assert 0 < _rows_of(summary_text) < 10_000
        assert read_cell.locator(".flightnb-progress").count() == 0

        # A later cell sees the handle's final state.
        _run_cell(page, 2)
        final = _cell(page, 2).locator(".jp-OutputArea-output", has_text="status: ")
        page.wait_for_function(
            "() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[2];"
            " return c && !c.innerText.includes('status: running')"
            " && c.innerText.includes('status: '); }",
            timeout=CELL_RUNS_MS,
        )
        text = final.first.inner_text()
        assert re.search(r"status: (cancelled|failed: FlightCancelledError)", text), text
