"""``compare``, ``ablate`` and ``votes summary`` say, in the one shared wording, when random demo
weights made what they report, before their tables; results of real weights carry no label."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chatgenbench.cli import main
from chatgenbench.core.random_weights import demo_weights_warning
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import Pair, Shown, VoteStore, default_votes_path
from tests.leaderboard_fixtures import sample_results
from tests.vote_fixtures import vote_store

SHARED = demo_weights_warning().split(":")[0]
IDS = [f"sample-{i:04d}" for i in range(1, 13)]
NAMES = ("no-finetune-sample", "retrieval-sample")
DEMO_BLOCK = {"used": True, "render_models": ["sd_xl_base_1.0"], "metric_models": [], "note": "x"}


def _write(path: Path, results: dict) -> str:
    path.write_text(json.dumps(results), "utf-8")
    return str(path)


def _demo(results: dict) -> dict:
    return dict(copy.deepcopy(results), random_weights=DEMO_BLOCK)


def test_compare_opens_with_the_label_naming_the_sides(tmp_path, capsys):
    real = sample_results()
    a = _write(tmp_path / "a.json", _demo(real))
    b = _write(tmp_path / "b.json", _demo(real))
    assert main(["compare", a, b, "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == demo_weights_warning(["A", "B"])
    assert main(["compare", a, b, "--resamples", "50", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["a"]["random_weights"] is True and found["b"]["random_weights"] is True
    # real weights: no label, and the JSON says false
    a = _write(tmp_path / "a.json", real)
    b = _write(tmp_path / "b.json", real)
    assert main(["compare", a, b, "--resamples", "50"]) == 0
    assert SHARED not in capsys.readouterr().out
    assert main(["compare", a, b, "--resamples", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["a"]["random_weights"] is False


@pytest.fixture()
def fake_ablations(monkeypatch, tmp_path):
    """``run_ablations`` replaced by one that returns ready results (no scoring, no rendering)."""
    from chatgenbench.analysis import ablation

    made: dict = {}

    def run_ablations(predictions, benchmark, **options):
        return {
            "results": {(p, "selection"): made[p] for p in predictions},
            "runs": [{"renders": {"rendered": 0, "cached": 0}} for _ in predictions],
        }

    monkeypatch.setattr(ablation, "run_ablations", run_ablations)
    return made


def test_ablate_opens_with_the_label_naming_the_files(fake_ablations, tmp_path, capsys):
    results = sample_results()
    results["oracle"] = {"steps": ["prompt"]}
    fake_ablations["demo.jsonl"] = _demo(results)
    fake_ablations["real.jsonl"] = results
    args = ["ablate", "demo.jsonl", "real.jsonl", "--benchmark", "sample", "--out-dir"]
    assert main([*args, str(tmp_path / "out"), "--no-images"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == demo_weights_warning(["demo.jsonl"])  # the real file unnamed
    assert main([*args, str(tmp_path / "out"), "--no-images", "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays JSON
    assert captured.err.strip() == demo_weights_warning(["demo.jsonl"])
    fake_ablations["demo.jsonl"] = results
    assert main([*args, str(tmp_path / "out"), "--no-images"]) == 0
    assert SHARED not in capsys.readouterr().out


def test_votes_summary_labels_the_demo_group(tmp_path, capsys):
    root = vote_store(tmp_path / "store", {NAMES[0]: IDS[:3], NAMES[1]: IDS[1:3]})
    votes = VoteStore(default_votes_path(root), min_seconds=0, submissions=SubmissionStore(root))
    shown = Shown(Pair("sample", "supervised", IDS[1], *NAMES), "a")
    votes.cast("v1", shown, "quality", "a", shown_at=100.0, now=103.0)
    assert main(["votes", "summary", "--store", str(root), "--resamples", "20"]) == 0
    assert SHARED not in capsys.readouterr().out  # real weights
    for name in NAMES:
        path = root / name / "results.json"
        _write(path, _demo(json.loads(path.read_text("utf-8"))))
    assert main(["votes", "summary", "--store", str(root), "--resamples", "20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if "counted vote" in line)
    assert lines[header + 1] == f"  {demo_weights_warning()}"
