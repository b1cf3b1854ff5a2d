"""One scale: every page shows a metric with the ranking's label, scale and digits (the ranking's
columns, from the metric registry). A gallery card or a side-by-side panel reads
``CLIP 1.6 · HPS v2 38.9`` beside a ranking that shows CLIP 1.6 and HPS v2 38.9, never the raw
``clip_score 0.016 · hps_v2 0.389``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from chatgenbench.metrics.registry import METRICS
from leaderboard.metric_display import sample_scores, sample_scores_text
from leaderboard.ranking import metric_columns
from tests.leaderboard.html_tables import tables_in_html
from tests.leaderboard_fixtures import ROOT
from tests.vote_fixtures import vote_store

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")
IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NAMES = ("no-finetune-sample", "retrieval-sample")
RAW_KEYS = tuple(entry.name for entry in METRICS.entries())


@dataclass
class Sample:
    bertscore: float | None = None
    config_score: float | None = None
    image_scores: dict = field(default_factory=dict)


def test_a_samples_scores_read_on_the_rankings_scale_with_its_labels():
    sample = Sample(
        0.81234,
        0.4,
        {"hps_v2": 0.389, "clip_score": 0.0164, "image_reward": -0.5216, "mine": 0.25},
    )
    assert sample_scores_text(sample) == (
        "BERTScore 0.812 · Config acc 0.400 · CLIP 1.6 · HPS v2 38.9 · ImageReward -52.2 · "
        "mine (raw) 0.250"
    )
    assert sample_scores(Sample()) == [("BERTScore", "-"), ("Config acc", "-")]


def test_the_table_is_the_registrys_scale_and_the_ranking_format():
    for column in metric_columns():
        entry = METRICS.entry(column.key)
        target_scale = getattr(METRICS.get(column.key), "scale", None)
        if isinstance(target_scale, int | float):  # an image metric class: its own scale
            assert column.scale == target_scale, column.key
        assert entry.metadata["scale"] in ("raw", f"x{column.scale:g}"), column.key
        # a sample's raw score and a mean of it read the same on the page
        assert column.format_sample(0.389) == column.format(column.scale * 0.389)
    scales = {column.key: column.scale for column in metric_columns()}
    assert scales["clip_score"] == scales["hps_v2"] == scales["image_reward"] == 100.0
    assert scales["prompt_bertscore"] == scales["config_accuracy"] == 1.0


@pytest.fixture()
def scored_store(tmp_path, monkeypatch):
    """Two sample submissions with rendered images and per-sample image scores (raw)."""
    root = vote_store(tmp_path / "store", {NAMES[0]: IDS[:3], NAMES[1]: IDS[:3]})
    for name in NAMES:
        lines = [
            json.dumps(
                {
                    "id": sample_id,
                    "config_score": 0.4,
                    "prompt_bertscore": 0.8,
                    "selection_correct": True,
                    "image_scores": {"clip_score": 0.0164, "hps_v2": 0.389},
                }
            )
            for sample_id in IDS
        ]
        (root / name / "samples.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    return root


def _html_tables(block) -> list:
    """The wrapping HTML tables (``st.html``) laid out in one tab."""
    return [frame for element in block.get("html") for frame in tables_in_html(element.proto.body)]


def _page_text(at) -> list[str]:
    """What a reader sees as words on every tab: texts, captions, headings, messages, and the
    tables' column headers and metric names."""
    parts = []
    for tab in at.tabs:
        parts += [e.value for e in (*tab.text, *tab.caption, *tab.subheader, *tab.markdown)]
        parts += [str(e.value) for e in (*tab.warning, *tab.info, *tab.success, *tab.error)]
        for frame in [f.value for f in tab.dataframe] + _html_tables(tab):
            parts += [str(column) for column in frame.columns]
            if "Metric" in frame.columns:
                parts += [str(value) for value in frame["Metric"]]
    return parts


def test_every_page_shows_the_rankings_labels_and_scale(scored_store):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    expected = "BERTScore 0.800 · Config acc 0.400 · CLIP 1.6 · HPS v2 38.9"
    (gallery,) = [tab for tab in at.tabs if tab.label == "Gallery"]
    assert [t.value for t in gallery.text].count(expected) == len(IDS[:12])  # every card
    seen = _page_text(at)
    at.radio(key="gallery_mode").set_value("Side by side").run()
    assert not at.exception
    (gallery,) = [tab for tab in at.tabs if tab.label == "Gallery"]
    assert [t.value for t in gallery.text].count(expected) == 2  # one per chosen submission
    seen += _page_text(at)
    for key in RAW_KEYS:  # no page names a metric by its results key
        assert not [part for part in seen if key in part], key
    # the Details tab's metrics are the ranking's headers
    (details,) = [tab for tab in at.tabs if tab.label == "Details"]
    (metrics,) = [f for f in _html_tables(details) if "Metric" in f.columns]  # a wrapping table
    assert list(metrics["Metric"]) == [column.header for column in metric_columns()]


def test_a_scale_the_table_cannot_read_is_refused_naming_the_metric():
    from leaderboard.ranking import _scale_factor

    assert _scale_factor("clip_score", "x100") == 100.0 and _scale_factor("fid", "x1") == 1.0
    assert _scale_factor("prompt_bertscore", "raw") == _scale_factor("mine", None) == 1.0
    for bad in ("percent", "x", "xten", "x0", "x-100", "xnan"):
        with pytest.raises(ValueError, match=r"metric 'mine' registers scale .*expected 'raw'"):
            _scale_factor("mine", bad)
