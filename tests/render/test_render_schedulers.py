from __future__ import annotations

import pytest

from chatgenbench.benchmark.samplers import A1111_SAMPLERS
from chatgenbench.render.schedulers import (
    DEFAULT_SAMPLER,
    SAMPLER_TABLE,
    build_scheduler,
    choose_scheduler,
)

# The SD 1.5 scheduler config (what a checkpoint's scheduler_config.json holds).
SD15_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "skip_prk_steps": True,
    "set_alpha_to_one": False,
}

# The sampler table of the README (Render), row by row: A1111 name -> (class, settings that must hold).
DESIGN_TABLE = {
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "DPM++ SDE": ("DPMSolverSinglestepScheduler", {"use_karras_sigmas": False}),
    "DPM++ SDE Karras": ("DPMSolverSinglestepScheduler", {"use_karras_sigmas": True}),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "DPM2 a Karras": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "LMS Karras": ("LMSDiscreteScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "PLMS": ("PNDMScheduler", {"skip_prk_steps": True}),
    "UniPC": ("UniPCMultistepScheduler", {}),
}


@pytest.mark.parametrize("name", sorted(DESIGN_TABLE))
def test_design_table_maps_each_sampler_to_a_working_scheduler(name):
    expected_class, expected_settings = DESIGN_TABLE[name]
    choice = choose_scheduler(name)
    assert choice.outcome == "exact" and choice.sampler == name
    scheduler = build_scheduler(choice, SD15_SCHEDULER)
    assert type(scheduler).__name__ == expected_class
    for key, value in expected_settings.items():
        assert scheduler.config[key] == value, key
    assert scheduler.config["beta_schedule"] == "scaled_linear"  # the checkpoint's config is kept
    scheduler.set_timesteps(6)
    assert len(scheduler.timesteps) >= 6


def test_every_a1111_name_is_in_the_table():
    assert set(SAMPLER_TABLE) == set(A1111_SAMPLERS)


@pytest.mark.parametrize("name", ["DPM++ 2S a", "DPM++ 2S a Karras"])
def test_dpmpp_2s_a_is_approximate_and_says_so(name):
    choice = choose_scheduler(name)
    assert choice.outcome == "approximate"
    assert choice.scheduler == "DPMSolverSinglestepScheduler"
    assert "no diffusers twin" in choice.note
    assert choice.settings.get("use_karras_sigmas", False) == name.endswith("Karras")
    assert type(build_scheduler(choice, SD15_SCHEDULER)).__name__ == choice.scheduler


@pytest.mark.parametrize(
    "name",
    ["DPM fast", "DPM adaptive", "lucy_(cyberpunk)_v10", "", None, 7, "Euler b"],
)
def test_unknown_or_counterpartless_names_fall_back_to_the_default(name):
    choice = choose_scheduler(name)
    assert choice.outcome == "fallback"
    assert choice.sampler == DEFAULT_SAMPLER
    assert choice.scheduler == SAMPLER_TABLE[DEFAULT_SAMPLER][0]
    assert choice.note


def test_names_match_case_and_space_insensitively():
    choice = choose_scheduler("  dpm++2m   KARRAS ")
    assert (choice.sampler, choice.outcome) == ("DPM++ 2M Karras", "exact")
    assert choice.settings == {"use_karras_sigmas": True}


def test_identity_distinguishes_karras_from_plain():
    assert choose_scheduler("DPM++ 2M").identity() != choose_scheduler("DPM++ 2M Karras").identity()
