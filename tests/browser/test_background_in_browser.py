"""A ``--bg`` read keeps streaming, and its widget keeps updating, while another cell computes.

In a real JupyterLab (headless Chromium): one cell starts ``%flight get ... --bg --progress``
on a 20 s flight, the next cell blocks the kernel with ``time.sleep``. The read runs on
flightnb's own loop thread, so during the sleep the widget in the first cell shows more and
more rows; a last cell awaits the handle and gets every row, and the widget ends as the
static summary in the cell that started the read.

JupyterLab, the browser and the helpers come from ``test_widget_in_browser`` and
``test_cancel_in_browser``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import test_cancel_in_browser as cancel
import test_widget_in_browser as base

jupyterlab = base.jupyterlab

pytestmark = pytest.mark.timeout(300)

WIDGET_APPEARS_MS = 60_000
SLEEP_SECONDS = 10
READ_FINISHES_MS = 60_000


def _widget_rows(page: Any, index: int) -> int:
    widget = cancel._cell(page, index).locator(".flightnb-progress")
    match = re.search(r"([\d,]+) rows", widget.inner_text(timeout=5_000))
    assert match, widget.inner_text()
    return int(match.group(1).replace(",", ""))


def test_background_read_updates_while_another_cell_runs(
    jupyterlab: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = jupyterlab
    url = cancel._open(
        url,
        root,
        "background.ipynb",
        [
            cancel.SETUP + "\n%load_ext flightnb\n%flight connect {server.location}",
            "handle = %flight get --ticket slow20 --bg --progress\n"
            'print("started:", handle.status)',
            f'import time\ntime.sleep({SLEEP_SECONDS})\nprint("slept; the read is", handle.status)',
            'table = await handle\nprint("rows read:", table.num_rows)',
        ],
    )
    with cancel._browser_page(url, tmp_path) as page:
        base._run_all_cells(page)
        cancel._cell(page, 1).locator(".flightnb-progress").wait_for(timeout=WIDGET_APPEARS_MS)
        cancel._wait_for_rows(page, 1)
        # The sleeping cell is running: the kernel's main thread and event loop are blocked.
        deadline = time.monotonic() + 20
        while "[*]" not in cancel._prompt(page, 2):
            assert time.monotonic() < deadline, "the sleeping cell did not start"
            time.sleep(0.2)
        # 50 rows every 0.1 s: the widget moves on by 200 rows while the cell still sleeps.
        first = _widget_rows(page, 1)
        while _widget_rows(page, 1) <= first + 200:
            assert "[*]" in cancel._prompt(page, 2), "the sleep ended before the widget moved on"
            page.wait_for_timeout(200)
        page.screenshot(path=str(tmp_path / "background-while-sleeping.png"))

        cancel._cell(page, 3).locator(
            ".jp-OutputArea-output", has_text="rows read: 10000"
        ).wait_for(timeout=READ_FINISHES_MS)
        summary = cancel._cell(page, 1).locator(".flightnb-summary.flightnb-done")
        summary.wait_for(timeout=READ_FINISHES_MS)
        assert "10,000 rows" in summary.inner_text()
        assert cancel._cell(page, 1).locator(".flightnb-progress").count() == 0
        slept = cancel._cell(page, 2).inner_text()
        assert "slept; the read is running" in slept or "slept; the read is done" in slept
