"""The results builder: slices, placeholders where no images were scored, image blocks attached."""

from __future__ import annotations

from chatgenbench.scoring.result_schema import check_results
from chatgenbench.scoring.results import Slice, attach_image_results, build_results, slices_of
from chatgenbench.scoring.stepwise import aggregate


def _sample(i: int, setting: str, input_type: str) -> dict:
    return {
        "id": f"s{i}",
        "setting": setting,
        "input_type": input_type,
        "has_prediction": True,
        "prompt_bertscore": 0.5,
        "selection_correct": i % 2 == 0,
        "config_score": 1.0,
        "config_matches": {"steps": True},
        "invalid_fields": [],
    }


def _header() -> dict:
    return {
        "synthetic": False,
        "benchmark": {},
        "predictions": {},
        "validation": {},
        "normalisation": {},
        "metric_settings": {},
    }


def test_slices_cover_each_setting_and_overall_whole_and_per_input_type():
    slices = slices_of(["supervised", "few_shot"])
    assert len(slices) == 3 * 4
    assert Slice(None, None) in slices and Slice("few_shot", "history") in slices
    assert Slice("supervised", "single").selects({"setting": "supervised", "input_type": "single"})
    assert not Slice("supervised", None).selects({"setting": "few_shot", "input_type": "single"})
    assert Slice(None, "single").selects({"setting": "few_shot", "input_type": "single"})


def test_without_images_every_image_metric_is_not_computed_with_the_fix():
    samples = [_sample(0, "supervised", "single"), _sample(1, "supervised", "history")]
    results = build_results(
        header=_header(),
        settings={"supervised": aggregate(samples)},
        overall=aggregate(samples),
        provenance={"command": "test"},
    )
    assert check_results(results) == []
    history = results["settings"]["supervised"]["by_input_type"]["history"]
    assert history["stepwise"]["selection_accuracy"]["value"] == 0.0
    for block in (results["overall"], history):
        assert {m["status"] for m in block["image"].values()} == {"not_computed"}
        assert block["image"]["fid"]["how_to_fix"] == "chatgenbench evaluate PRED --render"
        assert block["unified"]["status"] == "not_computed"


def test_image_blocks_are_attached_to_every_slice():
    from chatgenbench.scoring.images import ImageResults

    samples = [_sample(0, "supervised", "single")]
    results = build_results(
        header=_header(),
        settings={"supervised": aggregate(samples)},
        overall=aggregate(samples),
        provenance={},
    )
    blocks = {
        piece: {"n_images": i, "image": {"fid": {"status": "computed", "value": float(i), "n": 1}}}
        for i, piece in enumerate(slices_of(["supervised"]))
    }
    image = ImageResults(blocks, {"device": "cpu"}, {"render_dir": "r"}, {"seed": 3}, [])
    attach_image_results(results, image)
    assert results["settings"]["supervised"]["n_images"] == 0
    assert results["overall"]["by_input_type"]["history"]["n_images"] == 7
    assert results["metric_settings"]["image"] == {"device": "cpu"}
    assert results["images"] == {"render_dir": "r"} and results["provenance"]["seed"] == 3
    # the step-wise part is untouched
    assert results["overall"]["stepwise"]["selection_accuracy"]["value"] == 1.0
