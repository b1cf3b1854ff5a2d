"""Tables that a reader reads whole: HTML tables whose cells wrap, with every cell escaped.

``st.dataframe`` paints its cells on a canvas at a width fixed once, so a long reason, a queue
stage that grows (``rendering 5/12 images ...``) or a model name is cut (``renderi``), and a
wide table scrolls sideways off a 1,400 px window. The tables here are plain HTML tables laid out
by the browser: text wraps inside its column, numbers stay on one line, and the table is never
wider than the page. Every cell and header is passed through :func:`html.escape`, so submitter
text is shown as text (never as HTML or Markdown); a cell is bounded to :data:`MAX_CELL_CHARS`.

The ranking's main table leaves out its secondary columns (the submission id, the 95% intervals,
the efficiency figures: :func:`main_ranking_frame`), so that it fits the page; the page shows
every column in a sortable grid under it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import pandas as pd

#: Longest cell shown; longer text ends with an ellipsis (the full text stays in downloads).
MAX_CELL_CHARS = 2_000
#: Cells whose text is at most this long never wrap (numbers, marks, short names).
NOWRAP_CHARS = 12

_STYLE = (
    "<style>"
    ".cgb-table{width:100%;border-collapse:collapse;font-size:0.875rem;table-layout:auto;}"
    ".cgb-table th,.cgb-table td{border:1px solid rgba(49,51,63,0.12);padding:0.25rem 0.5rem;"
    "vertical-align:top;text-align:left;overflow-wrap:anywhere;white-space:pre-wrap;}"
    ".cgb-table th{background:rgba(49,51,63,0.04);font-weight:600;overflow-wrap:normal;}"
    ".cgb-table td.cgb-short{white-space:nowrap;overflow-wrap:normal;}"
    ".cgb-table td.cgb-number{text-align:right;}"
    ".cgb-table tr.cgb-highlight td{background:rgba(255,215,0,0.18);}"
    "</style>"
)


def cell_text(value: Any) -> str:
    """Return a cell as the text shown: ``''`` for a missing value, bounded, never markup."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def table_html(
    frame: pd.DataFrame, *, highlight: Iterable[bool] | None = None, caption: str = ""
) -> str:
    """Return ``frame`` as an escaped HTML table whose long cells wrap.

    ``highlight`` (one flag per row) shades rows, as the ranking shades the paper's reported
    rows. Cells of at most :data:`NOWRAP_CHARS` characters stay on one line; numbers align right.
    """
    flags = list(highlight) if highlight is not None else [False] * len(frame)
    if len(flags) != len(frame):
        raise ValueError(f"highlight has {len(flags)} flags for a table of {len(frame)} rows")
    head = "".join(f"<th>{html.escape(cell_text(column))}</th>" for column in frame.columns)
    rows = []
    for shaded, values in zip(flags, frame.itertuples(index=False, name=None)):
        cells = []
        for value in values:
            text = cell_text(value)
            classes = []
            if len(text) <= NOWRAP_CHARS:
                classes.append("cgb-short")
            if text == "-" or (text and _is_number(text)):
                classes.append("cgb-number")
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{html.escape(text)}</td>")
        row_class = ' class="cgb-highlight"' if shaded else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'{_STYLE}<table class="cgb-table">{title}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


#: The ranking's efficiency cells (:meth:`leaderboard.efficiency.Efficiency.cells`).
EFFICIENCY_COLUMNS = ("Params", "s / sample", "Device", "Efficiency from")
#: Suffix of the ranking's interval columns.
INTERVAL_SUFFIX = " 95% CI"


def is_secondary_column(name: str) -> bool:
    """Whether a ranking column is left to the full grid under the main table: the submission
    id, what a rank was computed from, an interval or an efficiency figure. Any other column (one added later included) is in
    the main table."""
    return (
        name in ("Submission", "Rank from")
        or name.endswith(INTERVAL_SUFFIX)
        or name in EFFICIENCY_COLUMNS
    )


def main_ranking_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the ranking's display frame without its secondary columns, in order."""
    return frame[[c for c in frame.columns if not is_secondary_column(c)]]
