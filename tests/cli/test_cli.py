"""The command line, run in-process through ``chatgenbench.cli.main``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chatgenbench.cli import main
from tests.conftest import perfect_prediction, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def _close(a, b, tol=1e-6) -> bool:
    """Nested equality with a float tolerance (encoder arithmetic may differ in the last bits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys; from chatgenbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'datasets', 'bert_score', 'transformers') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_validate_exit_codes_and_listing(tmp_path, sample_rows, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", [perfect_prediction(r) for r in sample_rows])
    assert main(["validate", str(good), "--benchmark", "sample"]) == 0
    bad_rows = [perfect_prediction(r) for r in sample_rows]
    bad_rows[2]["model"] = "hellorealisticman_V12"
    bad = write_jsonl(tmp_path / "bad.jsonl", bad_rows)
    capsys.readouterr()
    assert main(["validate", str(bad), "--benchmark", "sample"]) == 1
    out = capsys.readouterr().out
    assert "line 3" in out and "did you mean: hellorealisticman_V12a" in out
    assert main(["validate", str(bad), "--benchmark", "sample", "--json"]) == 1
    listing = json.loads(capsys.readouterr().out)
    assert listing["summary"]["n_errors"] == 1


def test_evaluate_prints_a_table_and_writes_results(tmp_path, sample_rows, capsys):
    pred = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    out = tmp_path / "r.json"
    code = main(
        ["evaluate", str(pred), "--benchmark", "sample", "--out", str(out), "--no-progress"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Supervised" in text and "1.000" in text and "minilm" in text
    assert json.loads(out.read_text())["settings"]["supervised"]["n_samples"] == 12


def test_evaluate_can_leave_the_reference_cache_off(tmp_path, sample_rows, monkeypatch):
    monkeypatch.setenv("CHATGENBENCH_HOME", str(tmp_path / "home"))
    pred = write_jsonl(tmp_path / "p.jsonl", [perfect_prediction(r) for r in sample_rows])
    states = []
    for extra in (["--no-reference-cache"], [], []):
        out = tmp_path / "r.json"
        argv = ["evaluate", str(pred), "--benchmark", "sample", "--out", str(out)]
        assert main([*argv, "--no-progress", *extra]) == 0
        states.append(
            json.loads(out.read_text())["metric_settings"]["bertscore"]["reference_cache"]
        )
    assert [s["state"] for s in states] == ["off", "cold", "warm"]
    assert Path(states[2]["path"]).is_file()
    assert str(tmp_path / "home" / "bertscore-references") in states[2]["path"]


def test_bad_inputs_exit_2_with_a_message(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.jsonl"), "--no-progress"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "x.jsonl"), "--benchmark", str(tmp_path)]) == 2
    assert "not a benchmark folder" in capsys.readouterr().err
    assert main(["baseline", "run", "nofinetune", "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "Did you mean: no-finetune" in capsys.readouterr().err


def test_prepare_synth_schema_catalog_baseline(tmp_path, capsys):
    assert main(["prepare", "--source", "sample", "--out", str(tmp_path / "b")]) == 0
    assert (
        main(
            [
                "synth",
                "--rows",
                "40",
                "--train-rows",
                "10",
                "--models",
                "12",
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 0
    )
    assert "SYNTHETIC" in capsys.readouterr().out
    assert main(["schema"]) == 0
    assert "settings.<setting>.stepwise.config_accuracy" in capsys.readouterr().out
    assert main(["catalog", "--benchmark", str(tmp_path / "b")]) == 0
    assert "samaritan3dCartoon_v40SDXL\tsdxl\tcheckpoint" in capsys.readouterr().out
    pred = tmp_path / "nf.jsonl"
    assert (
        main(
            [
                "baseline",
                "run",
                "no-finetune",
                "--benchmark",
                str(tmp_path / "s"),
                "--out",
                str(pred),
            ]
        )
        == 0
    )
    assert len(pred.read_text().splitlines()) == 40
    assert (
        main(["validate", str(pred), "--benchmark", str(tmp_path / "s")]) == 1
    )  # v1-5 not in a synthetic catalogue


def test_example_submission_results_are_reproducible(tmp_path):
    """submissions/no-finetune-sample/results.json is what `evaluate` gives on its predictions."""
    folder = ROOT / "submissions" / "no-finetune-sample"
    stored = json.loads((folder / "results.json").read_text())
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "evaluate",
                str(folder / "predictions.jsonl"),
                "--benchmark",
                "sample",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    fresh = json.loads(out.read_text())
    assert _close(fresh["settings"], stored["settings"])
    assert fresh["predictions"]["sha256"] == stored["predictions"]["sha256"]


def test_core_runs_without_torchvision_or_diffusers():
    """The core job (data, predictions, step-wise metrics) never imports the render stack."""
    code = (
        "import sys\n"
        "sys.modules['torchvision'] = None\n"  # any import of them now raises ImportError
        "sys.modules['diffusers'] = None\n"
        "from chatgenbench.cli import main\n"
        "rc = main(['evaluate', 'submissions/no-finetune-sample/predictions.jsonl', "
        "'--benchmark', 'sample', '--no-progress'])\n"
        "print('exit', rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "exit 0"
    assert "Supervised" in out.stdout


def _every_parser(parser):
    """Yield (command path, parser) for the root and every sub-command, recursively."""
    import argparse

    stack = [((), parser)]
    while stack:
        path, current = stack.pop()
        yield path, current
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    stack.append(((*path, name), child))


def test_every_option_of_every_command_has_help_text():
    import argparse

    from chatgenbench.cli import build_parser

    missing = []
    for path, parser in _every_parser(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help:
                missing.append(f"{' '.join(path) or 'chatgenbench'}: {action.dest}")
    assert missing == []


def test_a_family_without_its_action_is_bad_usage(capsys):
    import pytest

    for family in ("baseline", "weights", "models", "queue"):
        with pytest.raises(SystemExit) as stopped:
            main([family])
        assert stopped.value.code == 2, family
        assert "required" in capsys.readouterr().err


def test_every_error_of_the_family_exits_2_with_its_fix(monkeypatch, capsys):
    from chatgenbench.cli import scoring
    from chatgenbench.core import errors

    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert all(issubclass(cls, errors.ChatGenBenchError) for cls in classes)
    for cls in classes:
        if cls is errors.ChatGenBenchError:
            continue

        def fail(args, cls=cls):
            raise cls("it cannot work", how_to_fix="do this instead")

        monkeypatch.setattr(scoring, "schema_command", fail)
        assert main(["schema"]) == 2, cls.__name__
        err = capsys.readouterr().err
        assert "chatgenbench schema: error: it cannot work" in err
        assert "how to fix: do this instead" in err


def test_models_is_the_weights_family_for_checkpoints(capsys):
    assert main(["weights", "status", "--kind", "all", "--json"]) == 0
    out = capsys.readouterr().out
    first, second = out.split("\n]\n", 1)  # metric weight sets, then the catalogue's models
    assert {row["name"] for row in json.loads(first + "]")} >= {"clip-vit-large-patch14"}
    assert {row["name"] for row in json.loads(second)} >= {"v1-5-pruned-emaonly"}
    assert main(["models", "download"]) == 2  # checkpoints are fetched by name
    assert "name the catalogue models" in capsys.readouterr().err
