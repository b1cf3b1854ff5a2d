"""The ranking keeps Rank, Method and the rank-by column in view; its CSV cannot run formulas."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leaderboard.ranking import build_ranking, ranking_csv
from leaderboard.submissions import SubmissionStore
from tests.leaderboard.test_leaderboard_app import run_app, store  # noqa: F401
from tests.leaderboard_fixtures import add_variant, copy_sample


def _ranking_tables(at):
    return [df for df in at.dataframe if "Rank" in df.value.columns]


@pytest.mark.parametrize(
    "choice, header",
    [("default", "Unified ↑"), ("config_accuracy", "Config acc ↑"), ("fid", "FID ↓")],
)
def test_rank_by_column_follows_method_and_is_pinned(store, choice, header):  # noqa: F811
    at = run_app()
    if choice != "default":
        at.selectbox(key="view_sort").set_value(choice).run()
        assert not at.exception, at.exception
    tables = _ranking_tables(at)
    assert tables
    for table in tables:
        columns = list(table.value.columns)
        if choice == "default":  # each group's own default: Unified, else the best available
            header = columns[2]
            assert header in ("Unified ↑", "Config acc ↑", "Sel. acc ↑", "BERTScore ↑")
        assert columns[:3] == ["Rank", "Method", header]
        config = json.loads(table.proto.columns)
        pinned = {name for name, spec in config.items() if spec.get("pinned")}
        assert pinned == {"Rank", "Method", header}


FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "=1|cmd"]


@pytest.mark.parametrize("method", FORMULAS)
def test_csv_download_escapes_formula_cells(tmp_path, method):
    root = tmp_path / "store"
    copy_sample(root)
    add_variant(root, "hostile", method=method)
    ranking = build_ranking(SubmissionStore(root).submissions(), "supervised", "all")
    text = ranking_csv(ranking)
    rows = list(csv.DictReader(io.StringIO(text)))
    methods = [row["Method"] for row in rows]
    assert "'" + method in methods and method not in methods
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")) or value == ""
            if value.startswith("-"):  # only numbers may start with '-'
                float(value)
    image_reward = [row["ImageReward ↑"] for row in rows if row["ImageReward ↑"]]
    assert any(value.startswith("-") for value in image_reward)  # a reported negative value


@pytest.mark.parametrize("text", ["=1", "+a", "-b", "@c", "\tx", "\ry"])
def test_spreadsheet_safe_quotes_formula_text_only(text):
    from leaderboard.ranking import spreadsheet_safe

    assert spreadsheet_safe(text) == "'" + text
    assert spreadsheet_safe("plain") == "plain" and spreadsheet_safe(-3.5) == -3.5
