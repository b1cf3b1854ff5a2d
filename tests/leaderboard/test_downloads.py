"""The leaderboard's downloads: a submission's details (Parquet) and results JSON, the ranking view as
JSON beside the CSV; the bytes from :mod:`leaderboard.downloads`, the buttons on the page."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from chatgenbench.analysis.details import ExportError
from leaderboard.downloads import details_parquet, ranking_json, results_json
from leaderboard.ranking import build_ranking, ranking_csv
from leaderboard.submissions import SubmissionStore
from tests.leaderboard_fixtures import ROOT, SAMPLE_SUBMISSION, copy_sample, sample_results

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def test_details_parquet_of_the_sample_submission():
    import pyarrow.parquet as pq

    data = details_parquet(
        SAMPLE_SUBMISSION / "results.json", SAMPLE_SUBMISSION / "predictions.jsonl"
    )
    table = pq.read_table(io.BytesIO(data)).to_pylist()
    scored = {r["id"]: r for r in sample_results()["per_sample"]}
    predicted = {}
    for line in (SAMPLE_SUBMISSION / "predictions.jsonl").read_text().splitlines():
        row = json.loads(line)
        predicted.setdefault(row["id"], row)
    assert [r["id"] for r in table] == list(scored)
    for row in table:
        assert row["config_score"] == pytest.approx(scored[row["id"]]["config_score"])
        assert row["predicted_model"] == predicted[row["id"]]["model"]
        assert row["image"] is None  # the page offers no images (the CLI does)


def test_details_of_results_and_predictions_that_do_not_belong_together_are_refused(tmp_path):
    folder = copy_sample(tmp_path)
    (folder / "predictions.jsonl").write_text(
        (folder / "predictions.jsonl").read_text().replace("a", "b", 1)
    )
    with pytest.raises(ExportError, match="not that of the scored predictions"):
        details_parquet(folder / "results.json", folder / "predictions.jsonl")


def test_details_of_results_whose_benchmark_is_gone_are_refused(tmp_path):
    folder = copy_sample(tmp_path)
    results = sample_results()
    results["benchmark"].update(kind="folder", source=str(tmp_path / "gone"))
    (folder / "results.json").write_text(json.dumps(results))
    with pytest.raises(ExportError, match="cannot be read here"):
        details_parquet(folder / "results.json", folder / "predictions.jsonl")


def test_results_json_is_the_stored_file_and_never_a_link_out(tmp_path):
    folder = copy_sample(tmp_path / "store")
    submission = SubmissionStore(tmp_path / "store").load(folder.name)
    assert results_json(submission) == (folder / "results.json").read_bytes()
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    (folder / "results.json").unlink()
    (folder / "results.json").symlink_to(secret)
    with pytest.raises(OSError):
        results_json(submission)


def test_ranking_json_holds_the_rows_of_the_csv(tmp_path):
    copy_sample(tmp_path / "store")
    store = SubmissionStore(tmp_path / "store", allowed_benchmarks=("sample",))
    ranking = build_ranking(store.submissions(), "supervised", "all")
    view = json.loads(ranking_json(ranking))
    assert (view["setting"], view["input_type"]) == ("supervised", "all")
    csv = pd.read_csv(io.StringIO(ranking_csv(ranking)))
    rows = [row for group in view["groups"] for row in group["rows"]]
    assert len(rows) == len(csv)
    assert [r["Method"] for r in rows] == list(csv["Method"])
    mine = next(r for r in rows if r.get("Submission") == "no-finetune-sample")
    assert mine["Config acc ↑"] == pytest.approx(1 / 3, abs=1e-3)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_sample(root)
    broken = copy_sample(root, "other-predictions")
    (broken / "predictions.jsonl").write_text("{}\n")
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    return root


def _buttons(at) -> dict[str, bool]:
    return {b.proto.label: b.proto.disabled for b in at.get("download_button")}


def test_the_page_offers_the_downloads(store):
    at = AppTest.from_file(str(ROOT / "leaderboard" / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="detail_submission").set_value("no-finetune-sample").run()
    buttons = _buttons(at)
    assert buttons["Download this view as CSV"] is False
    assert buttons["Download this view as JSON"] is False
    assert buttons["Download the per-sample details (Parquet)"] is False
    assert buttons["Download results.json"] is False
    at.selectbox(key="detail_submission").set_value("other-predictions").run()
    assert _buttons(at)["Download the per-sample details (Parquet)"] is True  # disabled
    shown = "\n".join(t.value for t in at.text)
    assert "No per-sample details" in shown and "not that of the scored predictions" in shown
