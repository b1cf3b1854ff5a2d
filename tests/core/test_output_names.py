"""Output names derived from input paths: distinct whenever the inputs are."""

from __future__ import annotations

import pytest

from chatgenbench.core.errors import UsageError
from chatgenbench.core.output_names import distinct_names


def test_distinct_stems_are_kept(tmp_path):
    assert distinct_names([tmp_path / "a.jsonl", tmp_path / "b" / "c.jsonl"]) == ["a", "c"]


def test_shared_stems_take_their_path_from_the_common_folder(tmp_path):
    paths = [
        tmp_path / "s" / "alpha" / "predictions.jsonl",
        tmp_path / "s" / "beta" / "predictions.jsonl",
    ]
    assert distinct_names(paths) == ["alpha--predictions", "beta--predictions"]
    deeper = [tmp_path / "x" / "predictions.jsonl", tmp_path / "x" / "y" / "predictions.jsonl"]
    assert distinct_names(deeper) == ["predictions", "y--predictions"]


@pytest.mark.parametrize(
    "names",
    [
        ["p.jsonl", "p.json"],  # one stem, one folder
        ["Run.jsonl", "run.jsonl"],  # apart only by case (a case-insensitive disk merges them)
        ["a b.jsonl", "a_b.jsonl"],  # apart only by a character made safe
    ],
)
def test_names_that_would_still_collide_get_a_digest(tmp_path, names):
    found = distinct_names([tmp_path / name for name in names])
    assert len({name.casefold() for name in found}) == 2
    assert all(len(name.rsplit("-", 1)[-1]) == 8 for name in found)


def test_the_same_file_twice_is_refused(tmp_path):
    with pytest.raises(UsageError, match="same file"):
        distinct_names([tmp_path / "a.jsonl", tmp_path / "." / "a.jsonl"])


def test_names_are_safe_file_names(tmp_path):
    (name,) = distinct_names([tmp_path / "../../etc/pass wd;rm.jsonl"])
    assert "/" not in name and " " not in name and ";" not in name


def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path):
    from chatgenbench.core.output_names import check_outputs_apart

    check_outputs_apart({"in": tmp_path / "a"}, {"--out": tmp_path / "b", "--x": None})
    with pytest.raises(UsageError, match="--out .* is also in"):
        check_outputs_apart({"in": tmp_path / "a"}, {"--out": tmp_path / "sub" / ".." / "a"})
    with pytest.raises(UsageError, match="--per-sample .* is also --out"):
        check_outputs_apart({}, {"--out": tmp_path / "b", "--per-sample": tmp_path / "b"})
