"""The page end to end with a rendering worker and random demo weights: an upload through the
Submit tab, a worker that renders and image-scores it, the ranking with image columns (in a group
of its own), the Queue tab's stage, and the Gallery tab's images."""

from __future__ import annotations

from pathlib import Path

import yaml

from leaderboard.deployment import deployment_from_dict
from leaderboard.scoring_queue import ScoringQueue, ScoringWorker, default_queue_path
from leaderboard.submissions import SubmissionStore
from tests.leaderboard.test_leaderboard_app import (  # noqa: F401  (store is a fixture)
    ranking_frames,
    run_app,
    store,
    table_with,
    upload,
)


def test_an_upload_is_rendered_image_scored_ranked_and_shown(
    store,  # noqa: F811
    demo_weights,
    minilm_scorer,
    tmp_path,
):
    data = Path(demo_weights["predictions"]).read_bytes()
    at = upload(run_app(), "demo.jsonl", data, name="Demo Upload", method="Demo", authors="T")
    assert any("Queued as 'demo-upload'" in s.value for s in at.success)
    raw = yaml.safe_load(Path(demo_weights["deployment"]).read_text("utf-8"))
    raw["render_cache"] = str(tmp_path / "cache")
    queue = ScoringQueue(default_queue_path(store))
    worker = ScoringWorker(SubmissionStore(store), queue, deployment=deployment_from_dict(raw))
    worker._bertscore = minilm_scorer
    assert worker.run(once=True) == 1

    at = run_app()
    jobs = table_with(at, "stage")
    assert list(jobs["state"]) == ["done"] and list(jobs["stage"]) == ["done"]
    assert '"rendering"' in jobs["progress"].iloc[0]  # the stage times are kept
    groups = [frame for frame in ranking_frames(at) if "demo-upload" in set(frame["Submission"])]
    (ours,) = groups
    assert set(ours["Submission"]) == {"demo-upload"}  # random weights: ranked apart
    row = ours.iloc[0]
    assert row["CLIP ↑"] != "-" and row["HPS v2 ↑"] != "-" and row["ImageReward ↑"] != "-"
    assert row["FID ↓"] == "-"  # the sample has no reference images
    text = "\n".join(c.value for c in at.caption)
    assert "RANDOM demo weights" in text
    # the Gallery tab shows the first submission (demo-upload sorts first) with its images
    assert len(at.get("image")) == 12  # a page of 12 samples, each with its rendered image
    texts = [t.value for t in at.text]
    assert "sample-0001 · supervised · single" in texts
    assert any(t.startswith("BERTScore 1.000 · Config acc 0.400 · CLIP ") for t in texts)
