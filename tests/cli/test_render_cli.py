from __future__ import annotations

import json

from chatgenbench.cli import main


def test_render_command_writes_the_folder_from_the_cache(sample_run, tiny_models, tmp_path, capsys):
    folder, predictions, _ = sample_run
    code = main(["render", str(predictions), "--benchmark", "sample", "--catalog",
                 str(tiny_models.overlay), "--out", str(tmp_path / "out"), "--cache-dir",
                 str(folder / "cache"), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "12 samples: cached 5, weights_missing 7" in out
    assert "7 models lack weights" in out and "weights status --kind models" in out
    summary = json.loads((tmp_path / "out" / "render_summary.json").read_text())
    assert summary["provenance"]["command"].startswith("chatgenbench render")


def test_render_command_refuses_a_bad_shard(tmp_path, capsys):
    pred = tmp_path / "p.jsonl"
    pred.write_text("")
    code = main(["render", str(pred), "--out", str(tmp_path / "o"), "--shard", "4/2"])
    assert code == 2 and "--shard" in capsys.readouterr().err


def test_models_status_lists_present_and_missing_weights(tiny_models, capsys):
    code = main(["models", "status", "--benchmark", "sample", "--catalog",
                 str(tiny_models.overlay), "--json"])  # fmt: skip
    assert code == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    # the 12 reference models plus the two LoRA bases
    assert len(rows) == 14
    assert {name for name, row in rows.items() if row["present"]} == set(tiny_models.present)
    assert rows["v1-5-pruned-emaonly"]["needed_by"].startswith("base of LoRA")
    assert rows["devlishphotorealism_v40"]["size_bytes"] > 0
    assert "weights" in rows["rawXs_v2"]["how_to_get"]
    main(["models", "status", "--benchmark", "sample", "--catalog", str(tiny_models.overlay)])
    text = capsys.readouterr().out
    assert "7 of 14 models have their weights here" in text and "to get it:" in text


def test_models_fetch_reports_unknown_names(tiny_models, capsys):
    code = main(["models", "fetch", "rawxs_v3", "--catalog", str(tiny_models.overlay)])
    assert code == 1 and "did you mean: rawXs_v2" in capsys.readouterr().out


def test_models_status_for_a_prediction_file(sample_run, tiny_models, capsys):
    _, predictions, _ = sample_run
    code = main(["models", "status", "--benchmark", "sample", "--catalog",
                 str(tiny_models.overlay), "--predictions", str(predictions), "--json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {row["needed_by"] for row in rows} >= {"predictions"}
    assert rows[0]["name"] == "Small_Mostersv2" and rows[0]["present"]
