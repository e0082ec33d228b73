"""Printing results: JSON for scripts (`--json`), tables for people (rich on a terminal, plain
aligned columns elsewhere), messages about what goes on to stderr. The progress of a long
operation is `progress.ProgressDisplay`."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from models.status import TRANSITIONAL, VmStatus


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")


RICH_ROWS = 1000
"""A longer table is printed in plain columns on a terminal too: rich lays a table out at about
0.4 ms a row, which the status of a 10,000-VM MCIS would wait for seconds."""


STATUS_STYLES: dict[str, str] = {
    VmStatus.RUNNING: "green",
    VmStatus.SUSPENDED: "blue",
    VmStatus.TERMINATED: "dim",
    VmStatus.FAILED: "bold red",
    VmStatus.UNDEFINED: "magenta",
    **{status: "yellow" for status in TRANSITIONAL},
}
"""The colour of each VM status on a terminal."""


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], styles: Mapping[str, str] | None = None
) -> None:
    """Rows under their headers on stdout: a rich table on a terminal (up to `RICH_ROWS` rows;
    a cell whose text `styles` names in that style), else plain columns aligned with spaces,
    without colours or box lines, which scripts parse."""
    cells = [["" if c is None else str(c) for c in r] for r in rows]
    if sys.stdout.isatty() and len(cells) <= RICH_ROWS:
        table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in cells:
            table.add_row(*(Text(c, style=(styles or {}).get(c, "")) for c in row))
        Console(file=sys.stdout, highlight=False).print(table)
        return
    lines = [list(map(str, headers)), *cells]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    for line in lines:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")


def progress(message: str) -> None:
    """A message about what goes on, on stderr (stdout keeps the results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
