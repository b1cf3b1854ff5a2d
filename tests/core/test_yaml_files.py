"""The bounded YAML loader (chatgenbench/core/yaml_files.py): alias bombs, deep nesting and huge
values are refused fast and small, before any value is built; valid files load as before."""

from __future__ import annotations

import time
import tracemalloc

import pytest
import yaml

from chatgenbench.core.errors import ChatGenBenchError, DeploymentError, YamlFileError
from chatgenbench.core.yaml_files import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_STRING_CHARS,
    SHOWN_VALUE_CHARS,
    bounded_repr,
    parse_yaml,
    read_yaml_file,
)

MESSAGE_MAX_CHARS = 400


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    """The "billion laughs": ``width**levels`` items through nested aliases, a few hundred bytes."""
    lines = ["a: &a [" + ", ".join(["lol"] * width) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"
    for level in range(1, levels):
        name, previous = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _refused_fast_and_small(text: str, match: str) -> YamlFileError:
    """Parse ``text``; assert it is refused within 1 s and 50 MB; return the error."""
    start = time.perf_counter()
    with pytest.raises(YamlFileError, match=match):
        parse_yaml(text, source="bomb.yaml")
    seconds = time.perf_counter() - start
    assert seconds < 1.0, seconds
    tracemalloc.start()  # apart from the timing: tracing slows every allocation down
    try:
        with pytest.raises(YamlFileError, match=match) as caught:
            parse_yaml(text, source="bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, peak
    message = str(caught.value)
    assert "\n" not in message and len(message) < MESSAGE_MAX_CHARS, message
    assert message.startswith("bomb.yaml: ")
    return caught.value


def test_the_billion_laughs_is_refused_fast_without_memory(tmp_path):
    text = billion_laughs()
    assert len(text.encode()) < 600  # the 513 bytes, give or take the spacing
    error = _refused_fast_and_small(text, "aliases are expanded")
    assert "billion laughs" in str(error)
    path = tmp_path / "bomb.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(YamlFileError, match=str(path)):
        read_yaml_file(path)


@pytest.mark.parametrize(
    "text, match",
    [
        # variants: wider and shallower, a mapping bomb, merge keys, block style, many aliases
        (billion_laughs(levels=5, width=30), "aliases are expanded"),
        (
            "a: &a {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8}\n"
            + "".join(
                f"{n}: &{n} {{p: *{p}, q: *{p}, r: *{p}, s: *{p}, t: *{p}, u: *{p}, v: *{p}}}\n"
                for p, n in zip("abcdefg", "bcdefgh", strict=True)
            ),
            "aliases are expanded",
        ),
        (
            "x: &x [" + "y, " * 1500 + "y]\nz: [*x, *x, *x, *x, *x, *x, *x]\n",
            "aliases are expanded",
        ),
        (
            "a: &a\n"
            + "".join(f"  - item{i}\n" for i in range(1500))
            + "b: [*a, *a, *a, *a, *a, *a]",
            "aliases are expanded",
        ),
        ("a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]", "aliases"),
        ("a: &a " + "x" * 15000 + "\nb: [" + ", ".join(["*a"] * 90) + "]", "characters"),
        ("a: &a [1, *a]\n", "cycle"),
    ],
    ids=["wide", "mapping", "one-big-anchor", "block-style", "alias-count", "chars", "cycle"],
)
def test_alias_expansion_variants_are_refused(text, match):
    _refused_fast_and_small(text, match)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 10_000 + "1" + "}" * 10_000,
        "[\n" * 10_000 + "]" * 10_000,
        "".join("  " * level + "- \n" for level in range(MAX_DEPTH + 5)),
        "".join("  " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 5)) + "x",
    ],
    ids=["flow-list", "flow-map", "flow-lines", "block-list", "block-map"],
)
def test_deep_nesting_is_refused_fast(text):
    _refused_fast_and_small(text, "nested deeper")


def test_a_huge_string_is_refused_and_not_echoed():
    error = _refused_fast_and_small("a: " + "x" * (MAX_STRING_CHARS + 1), "characters")
    assert "xxxxxxxxxx" not in str(error)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("a: " + "1" * 6000, "ValueError"),  # past Python's integer digit limit
        ("a: [1, 2\n", "ParserError"),
        ("a: !!python/object/apply:os.system ['echo hi']", "ConstructorError"),
        ("a: b: c", "ScannerError"),
        ("a: 1\n---\nb: 2\n", "ComposerError"),
    ],
)
def test_every_parser_failure_is_the_callers_error_one_bounded_line(text, shown):
    with pytest.raises(DeploymentError) as caught:
        parse_yaml(text, source="given.yaml", error=DeploymentError)
    message = str(caught.value)
    assert shown in message and message.startswith("given.yaml: not readable YAML")
    assert "\n" not in message and len(message) < MESSAGE_MAX_CHARS
    assert isinstance(caught.value, ChatGenBenchError)


def test_a_file_over_its_limit_is_refused_before_it_is_read_whole(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" * 1000, "utf-8")
    with pytest.raises(YamlFileError, match="over the 100-byte limit"):
        read_yaml_file(path, max_bytes=100)
    path.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(YamlFileError, match="not UTF-8"):
        read_yaml_file(path)


VALID = """\
# a deployment-like file with anchors used sensibly
defaults: &defaults {batch_size: 16, device: cpu}
metrics:
  <<: *defaults
  names: [clip_score, hps_v2, image_reward, fid]
render: true
ratio: 0.5
when: 2026-12-03
nothing: null
text: "caf\\u00e9 — ünïcode"
nested: [[1, 2], {a: [x, y]}, &n [deep, [deeper, [deepest]]], *n]
"""


def test_a_valid_file_loads_the_same_as_yaml_safe_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(VALID, "utf-8")
    assert read_yaml_file(path) == yaml.safe_load(VALID)
    assert parse_yaml('{"json": [1, 2.5, true, null]}') == {"json": [1, 2.5, True, None]}
    assert parse_yaml("") is None
    # the limits are the limits: a document just under each still loads
    just_deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_yaml(just_deep) is not None
    assert len(parse_yaml("a: " + "x" * MAX_STRING_CHARS)["a"]) == MAX_STRING_CHARS
    many = "a: &a [" + ", ".join(["x"] * 99) + "]\nb: [" + ", ".join(["*a"] * 95) + "]"
    assert len(parse_yaml(many)["b"]) == 95  # 9,500 values expanded, under the 10,000


def test_bounded_repr_never_walks_a_huge_value():
    level = ["lol"] * 10
    for _ in range(8):  # 10**9 items, shared, as the bomb would build them
        level = [level] * 10
    start = time.perf_counter()
    shown = bounded_repr({"a": level})
    assert time.perf_counter() - start < 0.1
    assert len(shown) <= SHOWN_VALUE_CHARS and "\n" not in shown
    assert len(bounded_repr("x" * 10**6)) == SHOWN_VALUE_CHARS
    assert len(bounded_repr(10**5000)) <= SHOWN_VALUE_CHARS  # no digit-limit ValueError
    assert bounded_repr("short") == "'short'"

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "Hostile" in bounded_repr(Hostile())
