"""Adapter options, the resumable run_adapter, and the baseline command line."""

from __future__ import annotations

import json

import pytest

from baselines.registry import BASELINES, build_adapter
from chatgenbench.cli import main
from chatgenbench.predictions.adapters import (
    AdapterOptionError,
    load_options_file,
    parse_option_assignments,
    run_adapter,
    sidecar_paths,
)


def test_every_baseline_is_registered():
    assert {"no-finetune", "retrieval", "chatgen-base", "chatgen-evo"} <= set(BASELINES.names())
    for name in BASELINES.names():
        assert callable(BASELINES.get(name))


def test_parse_option_assignments():
    options = parse_option_assignments(
        [
            "k=5",
            "mode=catalog",
            "arguments.sampler=Euler a",
            "arguments.cfg_scale=7.5",
            "x=",
            "flag=true",
        ]
    )
    assert options == {
        "k": 5,
        "mode": "catalog",
        "arguments": {"sampler": "Euler a", "cfg_scale": 7.5},
        "x": "",
        "flag": True,
    }
    with pytest.raises(AdapterOptionError, match="key=value"):
        parse_option_assignments(["novalue"])
    with pytest.raises(AdapterOptionError, match="conflicts"):
        parse_option_assignments(["a=1", "a.b=2"])


def test_options_file_and_override(tmp_path):
    path = tmp_path / "opts.yaml"
    path.write_text("model: sd_xl_base_1.0\narguments:\n  width: 1024\n  height: 1024\n")
    assert load_options_file(path)["arguments"]["width"] == 1024
    adapter = build_adapter("no-finetune", {"arguments": {"height": 768}}, options_file=path)
    assert adapter.model == "sd_xl_base_1.0"
    assert adapter.arguments["width"] == 1024 and adapter.arguments["height"] == 768
    (tmp_path / "bad.yaml").write_text("- a\n- b\n")
    with pytest.raises(AdapterOptionError, match="mapping"):
        load_options_file(tmp_path / "bad.yaml")


def test_run_adapter_resumes_after_a_crash(tmp_path):
    out = tmp_path / "pred.jsonl"
    calls = []

    class Counting:
        name = "counting"

        def predict(self, rows):
            calls.extend(r["id"] for r in rows)
            return [
                {
                    "id": r["id"],
                    "prompt": "p",
                    "negative_prompt": "",
                    "model": "rolua",
                    "arguments": {},
                    **({"_notes": {"why": "test"}} if r["id"] == "sample-0005" else {}),
                }
                for r in rows
            ]

    partial = out.with_name(out.name + ".partial")
    first = {
        "id": "sample-0001",
        "prompt": "old",
        "negative_prompt": "",
        "model": "rolua",
        "arguments": {},
    }
    partial.write_text(json.dumps(first) + "\n" + '{"id": "sample-00')  # a line cut by a crash
    run_adapter(Counting(), "sample", out, batch_size=4, progress=False)
    assert calls == [f"sample-{i:04d}" for i in range(2, 13)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"sample-{i:04d}" for i in range(1, 13)]
    assert lines[0]["prompt"] == "old" and "_notes" not in lines[4]
    assert not partial.exists()
    notes = sidecar_paths(out)["notes"].read_text().splitlines()
    assert [json.loads(n) for n in notes] == [{"id": "sample-0005", "why": "test"}]
    run = json.loads(sidecar_paths(out)["run"].read_text())
    assert run["n_resumed"] == 1 and run["n_rows"] == 12 and run["adapter"] == "counting"


def test_run_adapter_rejects_wrong_ids(tmp_path):
    class Wrong:
        name = "wrong"

        def predict(self, rows):
            return [{"id": "nope"} for _ in rows]

    with pytest.raises(RuntimeError, match="answered id 'nope'"):
        run_adapter(Wrong(), "sample", tmp_path / "p.jsonl", progress=False)


def test_cli_baseline_run_with_options(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    code = main(
        [
            "baseline",
            "run",
            "no-finetune",
            "--out",
            str(out),
            "-o",
            "arguments.steps=20",
            "-o",
            "model=sd_xl_base_1.0",
            "--no-progress",
        ]
    )
    assert code == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert first["arguments"]["steps"] == 20 and first["model"] == "sd_xl_base_1.0"
    assert json.loads(sidecar_paths(out)["run"].read_text())["options"]["arguments"] == {
        "steps": 20
    }
    assert main(["baseline", "run", "no-finetune", "--out", str(out), "-o", "kk=1"]) == 2
    assert "has no option 'kk'" in capsys.readouterr().err
    assert main(["baseline", "run", "retrieval", "--out", str(out), "-o", "mode=magic"]) == 2
    assert "mode must be" in capsys.readouterr().err
    assert main(["baseline", "list"]) == 0
    assert "chatgen-evo" in capsys.readouterr().out
