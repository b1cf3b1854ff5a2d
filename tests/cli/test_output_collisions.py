"""Commands never write one output over another output or over their input."""

from __future__ import annotations

import pytest

from chatgenbench.cli import main
from tests.conftest import sample_predictions, write_predictions


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--out", "{pred}"], "--out {pred} is also the prediction file"),
        (["--per-sample", "{pred}"], "--per-sample {pred} is also the prediction file"),
        (["--out", "{dir}/r.json", "--per-sample", "{dir}/./r.json"], "--per-sample"),
    ],
)
def test_evaluate_refuses_an_output_that_is_its_input_or_another_output(
    tmp_path, capsys, flags, expected
):
    predictions = write_predictions(tmp_path / "p.jsonl", sample_predictions())
    before = predictions.read_bytes()
    filled = [flag.format(pred=predictions, dir=tmp_path) for flag in flags]
    assert main(["evaluate", str(predictions), "--encoder", "minilm", *filled]) == 2
    assert expected.format(pred=predictions) in capsys.readouterr().err
    assert predictions.read_bytes() == before
    assert not (tmp_path / "r.json").exists()


def test_baseline_run_refuses_an_output_that_is_its_options_file(tmp_path, capsys):
    options = tmp_path / "options.yaml"
    options.write_text("k: 3\n", "utf-8")
    for out in (options, tmp_path / "options.jsonl"):  # the file, or its run record's twin
        run = tmp_path / "options.run.json"
        args = ["baseline", "run", "retrieval", "--out", str(out), "--options", str(run)]
        if out == options:
            args[-1] = str(options)
        else:
            run.write_text("{}", "utf-8")
        assert main(args) == 2
        assert "one would overwrite the other" in capsys.readouterr().err
    assert options.read_text("utf-8") == "k: 3\n"
