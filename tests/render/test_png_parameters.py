"""Every rendered PNG carries its generation parameters in AUTOMATIC1111's ``parameters`` text, which
parses back to the request, whatever its untrusted prompts hold; the pixels are unchanged."""

from __future__ import annotations

import io

import pytest

from chatgenbench.render.arguments import normalise_arguments
from chatgenbench.render.cache import ImageCache, cache_key, encode_png, png_key
from chatgenbench.render.checkpoints import WeightRef
from chatgenbench.render.manifest import read_manifest
from chatgenbench.render.planning import RenderRequest
from chatgenbench.render.png_parameters import (
    parameters_text,
    parse_parameters,
    png_parameters,
)

HOSTILE = [
    'a "quoted" cat',
    "'''triple''' \"\"\"quotes\"\"\"",
    "back\\slash \\n not a newline \\u0041 \\",
    "cat\nNegative prompt: forged\nSteps: 1, Sampler: Euler, CFG scale: 1, Seed: 9",
    "__import__('os').system('touch /tmp/pwned')",
    "lone \ud800 surrogate \udfff",
    "line\u2028sep\x85nel\rcr\x0bvt",
    "",
    "   spaces around   ",
    "Steps: 99",
]


def _request(prompt: str, negative: str, model: str = "v1-5-pruned-emaonly", lora=True):
    arguments = normalise_arguments(
        {"sampler": "DPM++ 2M Karras", "steps": 30, "cfg_scale": 7, "width": 512, "height": 768},
        seed=1,
    )
    checkpoint = WeightRef(model, "single_file", "/m/x.safetensors", "sha256:" + "ab" * 32)
    lora_ref = WeightRef("add, detail: x", "single_file", "/m/l.safetensors", "sha256:" + "cd" * 32)
    return RenderRequest(
        key=cache_key({"p": prompt}),
        model=model,
        architecture="sd15",
        checkpoint=checkpoint,
        lora=lora_ref if lora else None,
        lora_scale=0.8,
        prompt=prompt,
        negative_prompt=negative,
        arguments=arguments,
        dtype="float32",
        device_type="cpu",
    )


def test_the_text_is_what_a1111_writes():
    text = parameters_text(_request("a cat", "blurry", lora=False))
    prompt, negative, line = text.split("\n")
    assert (prompt, negative) == ("a cat", "Negative prompt: blurry")
    assert line.startswith(
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 512x768, "
        "Model hash: ababababab, Model: v1-5-pruned-emaonly, Scheduler: "
        'DPMSolverMultistepScheduler, Scheduler settings: "{\\"use_karras_sigmas\\": true}", '
    )
    assert "Model hash: ababababab," in line and "Lora" not in line


@pytest.mark.parametrize("prompt", HOSTILE)
@pytest.mark.parametrize("negative", [HOSTILE[3], HOSTILE[5], "plain"])
def test_hostile_prompts_cannot_forge_a_line_and_parse_back(prompt, negative):
    request = _request(prompt, negative, model='evil, Seed: 5, Model: "x"\nSteps: 1')
    text = parameters_text(request)
    assert len(text.split("\n")) == 3  # prompt, negative prompt, parameters: nothing forged
    assert len(text.splitlines()) == 3
    parsed = parse_parameters(text)
    assert parsed["prompt"] == prompt and parsed["negative_prompt"] == negative
    assert parsed["Steps"] == 30 and parsed["Seed"] == 1 and parsed["CFG scale"] == 7.0
    assert parsed["Model"] == request.checkpoint.name
    assert parsed["Lora"] == "add, detail: x" and parsed["Lora scale"] == 0.8
    assert (parsed["width"], parsed["height"]) == (512, 768)
    # It can be written into a PNG (no lone surrogate reaches the UTF-8 chunk) and read back.
    from PIL import Image

    png = encode_png(Image.new("RGB", (8, 8)), request.key, text)
    assert png_parameters(png) == text and png_key(png) == request.key


def test_the_parser_reads_a1111_text_and_refuses_what_is_not_three_lines():
    parsed = parse_parameters(
        "a cat\nNegative prompt: \nSteps: 20, Sampler: Euler a, CFG scale: 6.5, Seed: 3, "
        'Size: 64x32, Model hash: 0123456789, Model: m, Lora hashes: "a: 1, b: 2"'
    )
    assert parsed["Sampler"] == "Euler a" and parsed["CFG scale"] == 6.5
    assert parsed["Lora hashes"] == "a: 1, b: 2" and parsed["width"] == 64
    for bad in ("one line", "a\nb\nc", "a\nNegative prompt: b\nc\nd"):
        with pytest.raises(ValueError):
            parse_parameters(bad)


def test_the_chunk_leaves_the_pixels_alone_and_cache_entries_verify(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    request = _request(HOSTILE[3], HOSTILE[5])
    plain = encode_png(image, request.key)
    tagged = encode_png(image, request.key, parameters_text(request))
    assert png_parameters(plain) is None and png_parameters(tagged) is not None
    decoded = [np.asarray(Image.open(io.BytesIO(png))) for png in (plain, tagged)]
    assert decoded[0].tobytes() == decoded[1].tobytes() == np.asarray(image).tobytes()
    cache = ImageCache(tmp_path)
    cache.put(request.key, tagged, {"prompt": request.prompt})
    assert cache.check(request.key, {"prompt": request.prompt}) is None


def test_every_rendered_png_carries_parameters_that_parse_back_to_its_request(sample_run):
    folder, _, report = sample_run
    cache = ImageCache(folder / "cache")
    checked = 0
    for record in read_manifest(report.out_dir):
        if not record.has_image:
            continue
        png = (report.out_dir / record.image).read_bytes()
        sidecar = cache.sidecar(record.cache_key)
        parsed = parse_parameters(png_parameters(png))
        arguments = sidecar["arguments"]
        assert parsed["prompt"] == sidecar["prompt"]
        assert parsed["negative_prompt"] == sidecar["negative_prompt"]
        assert parsed["Steps"] == arguments["steps"] and parsed["Seed"] == arguments["seed"]
        assert parsed["Sampler"] == arguments["sampler"]
        assert parsed["CFG scale"] == arguments["cfg_scale"]
        assert (parsed["width"], parsed["height"]) == (arguments["width"], arguments["height"])
        assert parsed["Scheduler"] == arguments["scheduler"]
        assert parsed["Scheduler settings"] == arguments["scheduler_settings"]
        assert parsed["Model"] == sidecar["checkpoint_name"]
        assert parsed["Model hash"] == sidecar["checkpoint"].split(":")[-1][:10]
        assert parsed.get("Lora hashes", "").endswith((sidecar["lora"] or "").split(":")[-1][:10])
        assert ("Lora" in parsed) == (sidecar["lora"] is not None)
        assert png_key(png) == record.cache_key
        assert cache.check(record.cache_key) is None
        checked += 1
    assert checked == 5
