"""``evaluate --render`` and ``ablate`` take the render flags of ``render`` (``--dtype``,
``--threads``; the batch size as ``--render-batch-size``) and hand them to the render."""

from __future__ import annotations

import pytest

from chatgenbench.cli import build_parser, main

SAMPLE_PREDICTIONS = "submissions/no-finetune-sample/predictions.jsonl"


class _Stop(Exception):
    """Raised by the render stand-in once it has the options it was given."""


@pytest.fixture
def render_options(monkeypatch):
    """Record the options the scoring stage hands to the render, and stop there."""
    import chatgenbench.scoring.evaluation as evaluation

    seen: dict = {}

    def fake_render_run(run, out_dir=None, *, progress=True, **options):
        seen.update(options)
        raise _Stop

    monkeypatch.setattr(evaluation, "render_run", fake_render_run)
    monkeypatch.setattr(evaluation, "score_stepwise", lambda run, scorer, progress=True: None)
    return seen


FLAGS = ["--dtype", "bf16", "--threads", "6", "--render-batch-size", "2", "--device", "cpu"]
EXPECTED = {"dtype": "bf16", "threads": 6, "batch_size": 2, "device": "cpu"}


def test_evaluate_render_hands_the_render_flags_on(render_options, minilm_scorer, monkeypatch):
    import chatgenbench.metrics.bertscore as bertscore

    monkeypatch.setattr(bertscore, "PromptBERTScore", lambda *a, **k: minilm_scorer)
    with pytest.raises(_Stop):
        main(["evaluate", SAMPLE_PREDICTIONS, "--render", "--no-progress", *FLAGS])
    assert render_options == EXPECTED


def test_ablate_hands_the_render_flags_on(render_options, minilm_scorer, monkeypatch, tmp_path):
    import chatgenbench.metrics.bertscore as bertscore

    monkeypatch.setattr(bertscore, "PromptBERTScore", lambda *a, **k: minilm_scorer)
    monkeypatch.setattr(
        "chatgenbench.scoring.images.ImageMetricSuite", lambda settings: object(), raising=True
    )
    with pytest.raises(_Stop):
        main(["ablate", SAMPLE_PREDICTIONS, "--out-dir", str(tmp_path), "--no-progress", *FLAGS])
    assert render_options == EXPECTED


def test_the_render_flags_share_render_s_definitions():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices

    def help_of(command: str, flag: str) -> str:
        return next(a.help for a in commands[command]._actions if flag in a.option_strings)

    for command in ("evaluate", "ablate"):
        assert help_of(command, "--dtype") == help_of("render", "--dtype")
        assert help_of(command, "--threads") == help_of("render", "--threads")
        assert help_of("render", "--batch-size") in help_of(command, "--render-batch-size")
    # evaluate's --batch-size stays BERTScore's
    assert "BERTScore" in help_of("evaluate", "--batch-size")
