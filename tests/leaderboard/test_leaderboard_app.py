"""The Streamlit page (leaderboard/app.py) driven through streamlit.testing's AppTest."""

from __future__ import annotations

import json

import pytest

from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path
from leaderboard.submissions import SubmissionStore
from tests.leaderboard.html_tables import html_tables
from tests.leaderboard_fixtures import (
    ROOT,
    add_variant,
    copy_sample,
    sample_predictions,
    sample_results,
)

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")


@pytest.fixture()
def store(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_sample(root)
    add_variant(root, "synthetic-run", method="Synthetic Method", synthetic=True)
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    monkeypatch.setenv("CHATGENBENCH_UPLOAD_MAX_BYTES", str(64 * 1024))
    return root


def run_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def frames_with(at: AppTest, column: str) -> list:
    """The dataframes on the page that have ``column`` (AppTest exposes no dataframe keys)."""
    return [df.value for df in at.dataframe if column in df.value.columns]


def frame_with(at: AppTest, column: str):
    (frame,) = frames_with(at, column)
    return frame


def table_with(at: AppTest, column: str):
    """The one HTML table (:mod:`leaderboard.text_table`) on the page that has ``column``."""
    (frame,) = [frame for frame in html_tables(at) if column in frame.columns]
    return frame


def ranking_frames(at: AppTest) -> list:
    return frames_with(at, "Rank")


def all_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.text, *at.caption, *at.subheader, *at.markdown)]
    parts += [str(e.value) for e in (*at.error, *at.success, *at.info, *at.warning)]
    return "\n".join(parts)


def test_ranking_shows_reported_rows_and_submissions_in_separate_groups(store):
    at = run_app()
    paper, sample = ranking_frames(at)
    first = paper.iloc[0]
    assert (first["Rank"], first["Method"], first["Kind"]) == ("1", "ChatGen-Evo (2B)", "reported")
    assert (first["BERTScore ↑"], first["FID ↓"], first["Unified ↑"]) == ("0.247", "19.1", "65.9")
    assert list(paper["Kind"].unique()) == ["reported"]
    baseline = paper[paper["Method"] == "Baseline"].iloc[0]
    assert baseline["Sel. acc ↑"] == "-"
    assert list(sample["Submission"]) == ["no-finetune-sample"]
    row = sample.iloc[0]
    assert row["Config acc ↑"] == "0.333" and row["FID ↓"] == "-" and row["n"] == "12"
    headers = [h.value for h in at.subheader]
    assert "ChengyouJia/ChatGenBench" in headers[0] and "minilm" in headers[1]
    text = all_text(at)
    assert "Synthetic Method" not in " ".join(
        " ".join(map(str, f.values.ravel())) for f in ranking_frames(at)
    )
    assert "not comparable with the paper's roberta-large values" in text
    download = at.get("download_button")[0]
    assert download.proto.label == "Download this view as CSV"


def test_toggles_change_the_view(store):
    at = run_app()
    at.radio(key="view_setting").set_value("few_shot").run()
    paper = ranking_frames(at)[0]
    assert paper.iloc[0]["Method"] == "ChatGen-Evo (2B)" and paper.iloc[0]["BERTScore ↑"] == "0.283"
    assert len(ranking_frames(at)) == 1  # the sample has no few-shot samples
    excluded = frame_with(at, "Why").set_index("Submission")["Why"].to_dict()
    assert excluded == {
        "no-finetune-sample": "no Few-shot / all samples scored",
        "synthetic-run": "scored on a synthetic benchmark",
    }

    at.radio(key="view_setting").set_value("supervised")
    at.radio(key="view_input_type").set_value("history").run()
    paper = ranking_frames(at)[0]
    assert list(paper["Method"]) == ["ChatGen-Evo (2B)"]
    assert (paper.iloc[0]["BERTScore ↑"], paper.iloc[0]["FID ↓"]) == ("0.165", "-")
    assert paper.iloc[0]["Unified ↑"] == "60.1"

    at.radio(key="view_input_type").set_value("single").run()
    frames = ranking_frames(at)
    assert frames[0].iloc[0]["Unified ↑"] == "68.1"
    assert len(frames) == 2 and frames[1].iloc[0]["n"] == "6"  # the sample's 6 single inputs

    at.radio(key="view_input_type").set_value("all")
    at.selectbox(key="view_sort").set_value("fid").run()
    assert list(ranking_frames(at)[0]["FID ↓"]) == ["19.1", "20.7", "20.8", "21.3", "32.7"]

    at.checkbox(key="view_reported").uncheck().run()
    frames = ranking_frames(at)
    assert len(frames) == 1 and list(frames[0]["Kind"]) == ["submission"]

    at.radio(key="view_setting").set_value("overall").run()
    (frame,) = ranking_frames(at)
    assert list(frame["Submission"]) == ["no-finetune-sample"]

    at.checkbox(key="view_reported").check().run()
    assert len(ranking_frames(at)) == 1
    assert "The paper reports no overall" in all_text(at)


def test_detail_view_shows_metadata_statuses_per_key_accuracy_and_provenance(store):
    at = run_app()
    at.selectbox(key="detail_submission").set_value("no-finetune-sample").run()
    meta = table_with(at, "Field")
    assert dict(zip(meta["Field"], meta["Value"]))["Method name"] == "no-finetune (paper Baseline)"
    metrics = table_with(at, "Status").set_index("Metric")
    assert metrics.loc["Config acc ↑", "Status"] == "computed"
    assert metrics.loc["Config acc ↑", "Value"] == "0.333"
    assert metrics.loc["FID ↓", "Value"] == "-"
    assert "images were not rendered" in metrics.loc["FID ↓", "Reason"]
    assert "--render" in metrics.loc["FID ↓", "How to fix"]
    per_key = frame_with(at, "Argument")
    assert set(per_key["Argument"]) == {"sampler", "steps", "cfg_scale", "width", "height"}
    expected = sample_results()["settings"]["supervised"]["stepwise"]["config_accuracy"]["per_key"]
    assert per_key.set_index("Argument")["Accuracy"].to_dict() == pytest.approx(expected)
    provenance = at.json[-1].value
    assert '"encoder": "minilm"' in provenance and "predictions_sha256" in provenance

    at.selectbox(key="detail_submission").set_value("synthetic-run").run()
    assert any("synthetic benchmark" in w.value for w in at.warning)


def test_the_footer_says_how_to_read_the_reported_rows(store):
    text = all_text(run_app())
    assert "Reported rows: Jia et al." in text
    assert "Unified = 25 * ((100 - FID)/100 + CLIP/100" in text
    assert "DESIGN" not in text


def upload(at: AppTest, filename: str, data: bytes, **fields: str) -> AppTest:
    at.file_uploader(key="upload_file").set_value((filename, data, "application/octet-stream"))
    for name, value in fields.items():
        if name == "setting":
            at.selectbox(key="upload_setting").set_value(value)
        else:
            at.text_input(key=f"upload_{name}").input(value)
    at.button(key="FormSubmitter:upload-Check and submit").click().run()
    assert not at.exception, at.exception
    return at


def test_a_good_upload_is_queued_scored_and_then_ranked(store):
    at = upload(
        run_app(),
        "mine.jsonl",
        sample_predictions(),
        name="My Upload",
        method="<b>My</b> method",
        authors="Tester",
        url="https://example.org",
    )
    assert any("Queued as 'my-upload' (job 1)" in s.value for s in at.success)
    assert (store / "my-upload" / "predictions.jsonl").read_bytes() == sample_predictions()
    queue = ScoringQueue(default_queue_path(store))
    assert [(j.submission, j.state) for j in queue.jobs()] == [("my-upload", "pending")]
    jobs = table_with(at, "state")
    assert list(jobs["state"]) == ["pending"]

    ScoringWorker(SubmissionStore(store), queue).run(once=True)
    at = run_app()
    assert list(table_with(at, "state")["state"]) == ["done"]
    sample_group = ranking_frames(at)[1]
    mine = sample_group[sample_group["Submission"] == "my-upload"].iloc[0]
    assert mine["Method"] == "<b>My</b> method"  # kept as text, never rendered as HTML
    assert mine["Config acc ↑"] == "0.333"


def test_an_upload_with_row_errors_is_refused_with_the_rows(store):
    lines = sample_predictions().decode().splitlines()
    row = json.loads(lines[0])
    row["arguments"]["steps"] = "many"
    lines[0] = json.dumps(row)
    lines[5] = "{oops"
    at = upload(run_app(), "bad.jsonl", "\n".join(lines).encode(), method="Bad", authors="T")
    assert any("not queued" in e.value for e in at.error)
    errors = frame_with(at, "location")
    assert {"line 1", "line 6"} <= set(errors["location"])
    assert "arguments.steps" in set(errors["field"])
    assert not (store / "bad").exists()
    assert ScoringQueue(default_queue_path(store)).jobs() == []


def test_bad_files_and_metadata_are_refused(store):
    # (the uploader itself refuses other extensions; the store's check is tested on its own)
    at = upload(
        run_app(), "evil.jsonl", b"\x80\x04K\x01.", method="", authors="T", url="javascript:x"
    )
    problems = " | ".join(frame_with(at, "Problem")["Problem"])
    assert "'method': missing" in problems
    assert "expected an http:// or https:// link" in problems
    at = upload(run_app(), "big.jsonl", b"{}\n" * 30000, method="Big", authors="T")
    problems = " | ".join(frame_with(at, "Problem")["Problem"])
    assert "over the upload limit of 65536 bytes" in problems
    at = upload(run_app(), "evil.jsonl", b"\x80\x04K\x01.", method="Pickle", authors="T")
    errors = frame_with(at, "location")
    assert list(errors["kind"]) == ["unparsable"] + ["missing_prediction"] * 12
    assert SubmissionStore(store).names() == ["no-finetune-sample", "synthetic-run"]
