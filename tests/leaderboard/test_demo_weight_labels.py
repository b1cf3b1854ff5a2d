"""Random demo weights are labelled, in one wording (chatgenbench.core.random_weights.
demo_weights_warning), on every page that shows what they made, before anyone looks or votes:
the ranking header, the gallery (and each card's image), side by side, details, the vote pair and
the vote results. Submissions made with real weights carry no such label (checked in the same
tests, after the labelled case)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatgenbench.core.random_weights import (
    DEMO_WEIGHTS_LABEL,
    demo_weights_warning,
    uses_random_weights,
)
from leaderboard.votes import VoteStore, default_votes_path
from tests.leaderboard_fixtures import ROOT
from tests.vote_fixtures import vote_store

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "leaderboard" / "app.py")
IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NAMES = ("no-finetune-sample", "retrieval-sample")
WORDING = demo_weights_warning()  # the part every label shares
SHARED = WORDING.split(":")[0]  # "Made with RANDOM demo weights ('chatgenbench weights demo')"


def _mark_demo(folder: Path, *, render: bool = True, metrics: bool = False) -> None:
    path = folder / "results.json"
    results = json.loads(path.read_text("utf-8"))
    results["random_weights"] = {
        "used": True,
        "render_models": ["sd_xl_base_1.0"] if render else [],
        "metric_models": ["clip_score"] if metrics else [],
        "note": "made with RANDOM demo weights",
    }
    path.write_text(json.dumps(results), "utf-8")


@pytest.fixture()
def demo_store(tmp_path, monkeypatch):
    root = vote_store(tmp_path / "store", {NAMES[0]: IDS[:3], NAMES[1]: IDS[1:3]})
    for name in NAMES:
        _mark_demo(root / name)
    monkeypatch.setenv("CHATGENBENCH_SUBMISSIONS", str(root))
    monkeypatch.delenv("CHATGENBENCH_QUEUE_DB", raising=False)
    monkeypatch.delenv("CHATGENBENCH_VOTES_DB", raising=False)
    monkeypatch.setenv("CHATGENBENCH_LEADERBOARD_BENCHMARKS", "sample")
    monkeypatch.setenv("CHATGENBENCH_VOTE_MIN_SECONDS", "0")
    return root


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def _warnings(at: AppTest, label: str) -> list[str]:
    (tab,) = [tab for tab in at.tabs if tab.label == label]
    return [str(w.value) for w in tab.warning]


def _captions(at: AppTest) -> list[str]:
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def test_the_wording_is_one_sentence_with_or_without_names():
    assert WORDING == (
        "Made with RANDOM demo weights ('chatgenbench weights demo'): the images are noise and "
        "the image scores mean nothing."
    )
    named = demo_weights_warning(["a", "b"])
    assert named.startswith(f"{SHARED}: a, b.") and "mean nothing" in named
    assert DEMO_WEIGHTS_LABEL in WORDING
    assert uses_random_weights({"random_weights": {"used": True}})
    assert not uses_random_weights({"random_weights": {"used": "yes"}})  # only a real true
    assert not uses_random_weights({"random_weights": ["used"]})
    assert not uses_random_weights(None)


def test_gallery_details_and_vote_pair_say_it_before_anything_is_shown(demo_store):
    at = _run()
    assert _warnings(at, "Gallery") == [demo_weights_warning([NAMES[0]])]
    assert _warnings(at, "Details") == [demo_weights_warning([NAMES[0]])]
    (vote_warning,) = _warnings(at, "Vote")
    assert vote_warning.startswith(WORDING)
    # the pair stays blind: the label names no submission
    assert not any(name in vote_warning for name in NAMES)
    captions = _captions(at)
    assert captions.count(f"rendered with {DEMO_WEIGHTS_LABEL}") == 3  # every card's image


def test_side_by_side_says_which_of_the_chosen_ones(demo_store):
    at = _run()
    at.radio(key="gallery_mode").set_value("Side by side").run()
    assert not at.exception
    assert _warnings(at, "Gallery") == [demo_weights_warning(list(NAMES))]
    captions = _captions(at)
    assert f"{NAMES[0]} ({DEMO_WEIGHTS_LABEL})" in captions  # the other has no image of it


def test_the_vote_results_say_it_in_the_same_words(demo_store):
    at = _run()
    at.button(key="vote-quality-left").click().run()
    assert not at.exception
    warnings = _warnings(at, "Vote")
    assert any(w.startswith(WORDING) and "summarised apart" in w for w in warnings[1:])


def test_metric_models_alone_are_labelled_on_gallery_and_details(demo_store):
    # images from real weights scored by random-weight metric models: the scores mean nothing
    _mark_demo(demo_store / NAMES[0], render=False, metrics=True)
    at = _run()
    assert _warnings(at, "Gallery") == [demo_weights_warning([NAMES[0]])]
    assert _warnings(at, "Details") == [demo_weights_warning([NAMES[0]])]
    assert VoteStore(default_votes_path(demo_store)).counts()["votes"] == 0
    # real weights on both sides: no label anywhere
    for name in NAMES:
        results = json.loads((demo_store / name / "results.json").read_text("utf-8"))
        results.pop("random_weights")
        (demo_store / name / "results.json").write_text(json.dumps(results), "utf-8")
    at = _run()
    for tab in ("Gallery", "Details", "Vote"):
        assert not any(SHARED in w for w in _warnings(at, tab)), tab
    assert not any(DEMO_WEIGHTS_LABEL in caption for caption in _captions(at))
