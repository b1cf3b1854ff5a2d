"""One field for a method's size (issue 20, 2): ``model_size`` holds the parameter count; the old
``parameters`` is merged into it when metadata is read, the ranking's ``Params`` comes from it,
the public form asks for it once, and a store's files are migrated readably."""

from __future__ import annotations

import pytest
import yaml

from leaderboard.efficiency import FROM_META, submission_efficiency
from leaderboard.meta_migration import main, migrate_meta_file
from leaderboard.model_size import merge_model_size, model_size_count
from leaderboard.submissions import META_FIELDS, SubmissionStore, validate_meta
from leaderboard.submit_form import PUBLIC_FIELDS, field_label
from tests.leaderboard_fixtures import copy_sample

BASE = {"method": "m", "authors": "a", "setting": "supervised"}


def test_the_form_asks_for_the_size_once():
    sizes = [name for name in PUBLIC_FIELDS if "size" in name or "param" in name]
    assert sizes == ["model_size"] and "parameters" not in META_FIELDS
    assert field_label("model_size") == "Model size (parameters)"


@pytest.mark.parametrize(
    ("size", "parameters", "merged"),
    [
        ("2B", "2.21B", "2.21B"),  # the case: one value, the precise one
        ("-", "2.21B", "2.21B"),
        (None, "350M", "350M"),
        ("22M (all-MiniLM-L6-v2 encoder)", "22.7M", "22.7M (all-MiniLM-L6-v2 encoder)"),
        ("LoRA on SD 1.5", "1B", "1B (LoRA on SD 1.5)"),
        ("8B", 8080000000, "8080000000"),
    ],
)
def test_parameters_is_merged_into_model_size(size, parameters, merged):
    data = {**BASE, "parameters": parameters}
    if size is not None:
        data["model_size"] = size
    found, what, problem = merge_model_size(data)
    assert problem is None and "parameters" not in found
    assert found["model_size"] == merged and "parameters" in what
    meta, problems = validate_meta(data)
    assert problems == [] and meta.model_size == merged
    assert "parameters" not in meta.to_dict()


def test_an_empty_parameters_is_dropped_and_a_bad_one_refused():
    meta, problems = validate_meta({**BASE, "model_size": "2B", "parameters": ""})
    assert problems == [] and meta.model_size == "2B"
    meta, problems = validate_meta({**BASE, "model_size": "2B", "parameters": "lots"})
    assert meta is None
    assert problems[0].startswith("metadata field 'parameters' (now part of 'model_size'):")
    meta, problems = validate_meta({**BASE, "parameters": ["2B"]})
    assert meta is None and "expected text, got list" in problems[0]


@pytest.mark.parametrize(
    ("text", "count"),
    [("2.21B", 2_210_000_000), ("22M (encoder)", 22_000_000), ("-", None), ("", None),
     ("a LoRA", None), (None, None), ("7B-ish", None)],
)  # fmt: skip
def test_model_size_count_reads_the_leading_count(text, count):
    assert model_size_count(text) == count


def test_params_in_the_ranking_come_from_model_size(tmp_path):
    folder = copy_sample(tmp_path, "sized")
    meta = yaml.safe_load((folder / "meta.yaml").read_text())
    meta["model_size"] = "2.21B (LoRA)"
    (folder / "meta.yaml").write_text(yaml.safe_dump(meta))
    (submission,) = SubmissionStore(tmp_path).submissions()
    found = submission_efficiency(submission)
    assert (found.parameters, found.source) == (2_210_000_000, FROM_META)


def test_a_stored_meta_with_both_fields_is_read_merged_and_migrated_readably(tmp_path, capsys):
    folder = copy_sample(tmp_path, "old")
    path = folder / "meta.yaml"
    meta = yaml.safe_load(path.read_text())
    meta.update(model_size="2B", parameters="2.21B", device="1x A100")
    path.write_text(yaml.safe_dump(meta, sort_keys=False))
    (submission,) = SubmissionStore(tmp_path).submissions()
    assert submission.meta.model_size == "2.21B" and not submission.meta_problems

    assert main([str(tmp_path)]) == 0  # says what it would do; writes nothing
    out = capsys.readouterr().out
    assert "model_size '2.21B' from model_size '2B' and parameters '2.21B'" in out
    assert "1 meta.yaml file to migrate" in out and "parameters" in path.read_text()

    assert main([str(tmp_path), "--write"]) == 0
    assert "1 meta.yaml file migrated" in capsys.readouterr().out
    text = path.read_text()
    assert text.startswith("# Migrated (one size field, issue 20): model_size '2.21B' from")
    written = yaml.safe_load(text)
    assert "parameters" not in written and written["model_size"] == "2.21B"
    assert {k: v for k, v in written.items() if k != "model_size"} == {
        k: v for k, v in meta.items() if k not in ("model_size", "parameters")
    }
    assert migrate_meta_file(path, tmp_path) is None  # done once
    (again,) = SubmissionStore(tmp_path).submissions()
    assert again.meta.model_size == "2.21B"


def test_migration_never_follows_a_link_out_of_the_store(tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "meta.yaml").write_text("method: m\nparameters: 2B\n")
    store = tmp_path / "store"
    (store / "linked").mkdir(parents=True)
    (store / "linked" / "meta.yaml").symlink_to(outside / "meta.yaml")
    assert main([str(store), "--write"]) == 0
    assert "not migrated" in capsys.readouterr().err
    assert (outside / "meta.yaml").read_text() == "method: m\nparameters: 2B\n"
