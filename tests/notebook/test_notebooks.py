"""The notebooks in notebooks/ run in a real Jupyter kernel and show what they promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _execute(name: str) -> list[Any]:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3").execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts.append(data.get("text/plain", "") + data.get("text/html", ""))
    return "".join(parts)


@pytest.mark.timeout(300)
def test_quickstart_notebook() -> None:
    cells = _execute("quickstart.ipynb")
    outputs = [_text(cell) for cell in cells]
    assert outputs[0].strip("'").startswith("grpc://127.0.0.1:")
    assert "100000 rows, 14 columns" in outputs[1]
    assert "shape: (3, 2)" in outputs[2] and "trip_id" in outputs[2]
    assert "200 stations" in outputs[3]
    assert "trips 100000" in outputs[4] and "stations 200" in outputs[4]
    assert not any(o.get("output_type") == "error" for c in cells for o in c.outputs)


@pytest.mark.timeout(300)
def test_tour_notebook() -> None:
    cells = _execute("tour.ipynb")
    by_source = {cell.source.splitlines()[0]: _text(cell) for cell in cells}
    assert "connected to grpc://127.0.0.1:" in by_source["%load_ext flightnb"]
    listing = by_source["%flight list"]
    assert "<table>" in listing and "trips" in listing and "100,000" in listing
    assert "station_id" in by_source["%flight schema stations"]
    preview = by_source["%flight trips << get trips --to polars"]
    assert "trips: 100,000 rows, 14 columns (showing the first 10" in preview
    assert "flightnb-result" in preview
    busiest = by_source["%%flight sql -o busiest --no-progress"]
    assert "busiest: 5 rows, 2 columns" in busiest and "station" in busiest
    assert "*" in by_source["%flight connections"] and "default" in by_source["%flight connections"]
    assert (
        "BackgroundRead read of trips" in by_source["handle = %flight get trips --bg --no-progress"]
    )
    assert "100000 rows read in the background; done" in by_source["background = await handle"]
    assert "stars" in by_source["import pandas as pd"]
    assert not any(o.get("output_type") == "error" for c in cells for o in c.outputs)
