"""The leaderboard's wording and text tables (issue 20, 2): plurals from one helper, tables whose
cells are escaped text, the ranking's main columns, the side-by-side preselection, the Submit
form's labels and fields, and the note of a multimodal sample whose input images are missing."""

from __future__ import annotations

import pandas as pd
import pytest

from leaderboard.gallery import MAX_COMPARED
from leaderboard.gallery_views import compared_with, input_images_note
from leaderboard.submissions import META_FIELDS
from leaderboard.submit_form import FIELD_LABELS, PUBLIC_FIELDS, field_label, meta_rows
from leaderboard.text_table import (
    MAX_CELL_CHARS,
    cell_text,
    is_secondary_column,
    main_ranking_frame,
    table_html,
)
from leaderboard.wording import plural


@pytest.mark.parametrize(
    ("count", "noun", "form", "expected"),
    [
        (1, "warning", None, "1 warning"),
        (0, "warning", None, "0 warnings"),
        (2, "vote", None, "2 votes"),
        (1, "voter", None, "1 voter"),
        (1, "entry", "entries", "1 entry"),
        (3, "entry", "entries", "3 entries"),
        (1200, "sample", None, "1,200 samples"),
    ],
)
def test_plural_agrees_with_its_count(count, noun, form, expected):
    assert plural(count, noun, form) == expected


def test_table_cells_are_escaped_text_never_markup():
    hostile = '<img src=x onerror="alert(1)"> **bold** [link](http://x) $x$ :red[r]'
    html = table_html(pd.DataFrame({"<b>Method</b>": [hostile], "n": [3]}))
    assert "<img" not in html and "<b>Method" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; **bold** [link](http://x)" in html
    assert "&lt;b&gt;Method&lt;/b&gt;" in html


def test_table_cells_are_bounded_and_missing_values_empty():
    assert len(cell_text("x" * (MAX_CELL_CHARS * 3))) == MAX_CELL_CHARS
    assert cell_text(None) == "" and cell_text(float("nan")) == ""
    html = table_html(pd.DataFrame({"a": ["y" * (MAX_CELL_CHARS + 10)]}))
    assert "y" * MAX_CELL_CHARS not in html and "…" in html


def test_table_long_text_wraps_short_cells_and_numbers_do_not():
    html = table_html(
        pd.DataFrame({"Reason": ["images were not rendered " * 4], "Value": ["0.247"]})
    )
    assert '<td class="cgb-short cgb-number">0.247</td>' in html
    assert "<td>images were not rendered" in html  # no nowrap class: it wraps
    assert "overflow-wrap:anywhere" in html


def test_table_highlight_needs_one_flag_per_row():
    frame = pd.DataFrame({"Kind": ["reported", "submission"]})
    html = table_html(frame, highlight=[True, False])
    assert html.count('class="cgb-highlight"') == 1
    with pytest.raises(ValueError, match="1 flags for a table of 2 rows"):
        table_html(frame, highlight=[True])


def test_main_ranking_frame_keeps_what_ranks_and_leaves_ids_intervals_efficiency():
    columns = ["Rank", "Method", "Unified ↑", "Kind", "Submission", "Size", "BERTScore ↑", "n",
               "vs above", "BERTScore 95% CI", "Params", "s / sample", "Device",
               "Efficiency from", "Rank band"]  # fmt: skip
    frame = pd.DataFrame([["x"] * len(columns)], columns=columns)
    main = main_ranking_frame(frame)
    assert list(main.columns) == [
        "Rank", "Method", "Unified ↑", "Kind", "Size", "BERTScore ↑", "n", "vs above", "Rank band"
    ]  # fmt: skip
    assert is_secondary_column("Config acc 95% CI") and not is_secondary_column("vs above")


@pytest.mark.parametrize(
    ("name", "names", "expected"),
    [
        ("first", ["first", "second", "third"], ["first", "second"]),
        ("second", ["first", "second", "third"], ["second", "third"]),
        ("third", ["first", "second", "third"], ["third", "first"]),  # wraps around
        ("only", ["only"], ["only"]),
        ("gone", ["first", "second"], ["gone"]),
    ],
)
def test_side_by_side_opens_with_the_cards_submission_and_one_more(name, names, expected):
    assert compared_with(name, names) == expected


def test_side_by_side_never_opens_with_more_than_it_can_compare():
    names = [f"s{i}" for i in range(10)]
    assert len(compared_with("s0", names, count=99)) == MAX_COMPARED
    assert compared_with("s0", names, count=0) == ["s0"]


def test_input_images_note_counts_what_is_missing():
    assert input_images_note("multimodal", 1, 0).startswith("1 input image of 1 not shown: its")
    assert input_images_note("multimodal", 3, 1).startswith("2 input images of 3 not shown: their")
    assert input_images_note("multimodal", 2, 2) is None
    assert input_images_note("single", 0, 0) is None and input_images_note("history", 0, 0) is None


def test_a_multimodal_sample_without_images_says_why():
    assert "holds none for this multimodal sample" in input_images_note("multimodal", 0, 0)


def test_submit_form_labels_are_words_and_oracle_is_not_public():
    assert "oracle" not in PUBLIC_FIELDS
    assert set(PUBLIC_FIELDS) | {"oracle"} == set(META_FIELDS)
    for name in PUBLIC_FIELDS:
        label = field_label(name)
        assert "_" not in label and label[0].isupper(), label
        assert name in FIELD_LABELS
    assert field_label("method").endswith(" *") and not field_label("url").endswith("*")


def test_meta_rows_use_the_labels_and_leave_out_empty_optional_fields():
    rows = meta_rows({"method": "M", "authors": "A", "url": "", "model_size": "-", "notes": "n"})
    assert rows == [("Method name", "M"), ("Authors", "A"), ("Notes", "n")]
