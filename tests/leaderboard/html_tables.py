"""Read back the HTML tables the leaderboard lays out (:mod:`leaderboard.text_table`) as
``pandas.DataFrame`` s of their cell texts, for AppTest tests (AppTest shows ``st.html`` as its
body, not as a table). The standard library's HTML parser unescapes the cells, so a test sees
the text a reader sees."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._skip = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("style", "caption"):
            self._skip = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("style", "caption"):
            self._skip = False

    def handle_data(self, data):
        if self._cell is not None and not self._skip:
            self._cell.append(data)


def tables_in_html(body: str) -> list[pd.DataFrame]:
    """Return each table of an HTML text as a frame: the first row is the header."""
    parser = _Tables()
    parser.feed(body)
    frames = []
    for rows in parser.tables:
        if rows:
            frames.append(pd.DataFrame(rows[1:], columns=rows[0]))
    return frames


def html_tables(at) -> list[pd.DataFrame]:
    """Return every HTML table an AppTest run laid out with ``st.html``."""
    return [frame for element in at.get("html") for frame in tables_in_html(element.proto.body)]
