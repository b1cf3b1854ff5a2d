"""One provenance helper: evaluation results, render summaries and adapter run records carry
the same keys for the same facts."""

from __future__ import annotations

import json

from chatgenbench.core.provenance import LIBRARIES, command_line, package_versions, provenance

SHARED = {
    "chatgenbench_version",
    "python",
    "platform",
    "libraries",
    "created_utc",
    "command",
    "benchmark",
    "benchmark_source",
    "benchmark_revision",
}


def test_the_record_and_its_versions():
    from chatgenbench.benchmark.loading import resolve_source

    record = provenance(benchmark=resolve_source("sample"), predictions="p.jsonl",
                        predictions_sha256="ab", encoder="minilm")  # fmt: skip
    assert SHARED | {"predictions", "predictions_sha256", "encoder"} == set(record)
    assert record["benchmark_source"] == "sample" and record["predictions"] == "p.jsonl"
    assert set(record["libraries"]) == set(LIBRARIES)
    assert package_versions(("torch", "no-such-distribution"))["no-such-distribution"] is None
    assert command_line().startswith("chatgenbench")


def test_evaluate_render_and_adapters_record_the_same_keys(tmp_path, sample_run, minilm_scorer):
    from baselines.registry import build_adapter
    from chatgenbench.predictions.adapters import run_adapter
    from chatgenbench.scoring.evaluation import evaluate

    _, predictions, report = sample_run
    evaluated = evaluate(predictions, "sample", bertscore=minilm_scorer, progress=False)
    out = run_adapter(build_adapter("no-finetune", {}), "sample", tmp_path / "p.jsonl",
                      progress=False)  # fmt: skip
    run_record = json.loads(out.with_name("p.run.json").read_text())
    records = {
        "evaluate": evaluated["provenance"],
        "render": report.summary["provenance"],
        "adapter": run_record["provenance"],
    }
    for where, record in records.items():
        assert SHARED <= set(record), where
        assert record["benchmark_source"] == "sample", where
    assert (
        records["evaluate"]["predictions_sha256"]
        == records["render"]["predictions_sha256"]
        == evaluated["predictions"]["sha256"]
    )
