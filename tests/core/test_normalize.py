from __future__ import annotations

import math

import pytest

from chatgenbench.core.normalize import (
    argument_matches,
    normalize_argument,
    normalize_model_name,
    parse_integer,
    parse_number,
    sampler_key,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("devlishphotorealism_v40", "devlishphotorealism_v40"),
        ("  DevlishPhotorealism_V40 ", "devlishphotorealism_v40"),
        ("rawXs_v2.safetensors", "rawxs_v2"),
        ("rawXs_v2.", "rawxs_v2"),
        ("rawXs_v2.ckpt.", "rawxs_v2"),
        ("lucy_(cyberpunk)_v10", "lucy_(cyberpunk)_v10"),
        ("Dream   Shaper  8", "dream shaper 8"),
        ("", None),
        ("   ", None),
        (None, None),
        (42, None),
    ],
)
def test_normalize_model_name(raw, expected):
    assert normalize_model_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("512", 512.0), (512, 512.0), (" 7.0 ", 7.0), (7.5, 7.5), ("1e3", 1000.0)],
)
def test_parse_number_accepts_numbers_and_numeric_strings(raw, expected):
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    "raw", [None, True, False, "", "512px", "seven", math.nan, math.inf, "nan", [1]]
)
def test_parse_number_rejects_non_numbers(raw):
    assert parse_number(raw) is None


def test_parse_integer_requires_whole_numbers():
    assert parse_integer("512") == 512
    assert parse_integer(512.0) == 512
    assert parse_integer("600.5") is None
    assert parse_integer(True) is None


def test_normalize_argument_types():
    assert normalize_argument("width", "600") == 600
    assert normalize_argument("cfg_scale", 7) == 7.0
    assert normalize_argument("sampler", "  Euler a ") == "Euler a"
    assert normalize_argument("sampler", "") is None
    assert normalize_argument("steps", "many") is None


def test_sampler_key_ignores_case_and_spaces():
    assert sampler_key("DPM++ 2M Karras") == sampler_key("dpm++2m  karras") == "dpm++2mkarras"
    assert sampler_key(3) is None


@pytest.mark.parametrize(
    ("key", "pred", "ref", "expected"),
    [
        ("width", "512", 512, True),
        ("width", 512, "512", True),
        ("cfg_scale", 7, 7.0, True),
        ("cfg_scale", "7.0", 7, True),
        ("cfg_scale", 7.5, 7, False),
        ("steps", None, 30, False),
        ("steps", "thirty", 30, False),
        ("sampler", "euler A", "Euler a", True),
        ("sampler", "DPM++2M Karras", "DPM++ 2M Karras", True),
        ("sampler", "Euler", "Euler a", False),
        ("sampler", None, "Euler a", False),
        ("height", True, 1, False),
    ],
)
def test_argument_matches(key, pred, ref, expected):
    assert argument_matches(key, pred, ref) is expected
