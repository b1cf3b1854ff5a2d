from __future__ import annotations

from chatgenbench.render.arguments import (
    DEFAULT_SEED,
    DEFAULTS,
    SIZE_RANGE,
    change_kinds,
    normalise_arguments,
)


def test_clean_arguments_are_used_unchanged():
    args = normalise_arguments(
        {"sampler": "Euler", "steps": 30, "cfg_scale": 7, "width": 512, "height": 768}
    )
    assert (args.steps, args.cfg_scale, args.width, args.height) == (30, 7.0, 512, 768)
    assert args.seed == DEFAULT_SEED
    assert args.normalised == {}


def test_string_sizes_are_cast_and_recorded():
    args = normalise_arguments({"sampler": "Euler a", "steps": 20, "cfg_scale": 7,
                                "width": "600", "height": "512"})  # fmt: skip
    assert (args.width, args.height) == (600, 512)
    assert args.normalised["width"] == {"given": "600", "used": 600, "change": "cast"}


def test_sizes_round_to_a_multiple_of_8():
    args = normalise_arguments({"sampler": "Euler", "steps": 15, "cfg_scale": 7,
                                "width": "836", "height": 1150})  # fmt: skip
    assert (args.width, args.height) == (832, 1152)
    assert args.normalised["width"]["change"] == "cast+rounded"
    assert args.normalised["height"]["change"] == "rounded"


def test_out_of_range_values_are_clamped():
    args = normalise_arguments({"sampler": "Euler", "steps": 0, "cfg_scale": 250,
                                "width": 8, "height": 99999})  # fmt: skip
    assert args.steps == 1 and args.cfg_scale == 30.0
    assert (args.width, args.height) == (SIZE_RANGE[0], SIZE_RANGE[1])
    assert {k: v["change"] for k, v in args.normalised.items()} == {
        "steps": "clamped",
        "cfg_scale": "clamped",
        "width": "clamped",
        "height": "rounded+clamped",
    }


def test_missing_or_unreadable_values_take_the_architecture_defaults():
    args = normalise_arguments({"steps": "many", "cfg_scale": None}, "sdxl")
    assert args.steps == DEFAULTS["sdxl"]["steps"]
    assert (args.width, args.height) == (1024, 1024)
    assert args.scheduler.outcome == "fallback"
    assert sorted(change_kinds(args.normalised)) == [
        "cfg_scale:default",
        "height:default",
        "sampler:sampler_fallback",
        "steps:default",
        "width:default",
    ]
    assert normalise_arguments(None, "sd15").width == 512


def test_seed_from_prediction_wins_and_float_seed_is_cast():
    assert normalise_arguments({"seed": 5}).seed == 5
    assert normalise_arguments({"seed": 5}, seed=9).seed == 9
    args = normalise_arguments({"seed": 12.0})
    assert args.seed == 12 and args.normalised["seed"]["change"] == "cast"


def test_identity_covers_what_decides_the_image():
    base = {"sampler": "Euler", "steps": 20, "cfg_scale": 7, "width": 512, "height": 512}
    a = normalise_arguments(base).identity()
    assert a == normalise_arguments({**base, "width": "512"}).identity()
    for key, value in (("steps", 21), ("cfg_scale", 7.5), ("width", 520), ("sampler", "DDIM")):
        assert normalise_arguments({**base, key: value}).identity() != a, key
