"""``chatgenbench recipe``: a standalone diffusers script that reproduces the engine's image byte for
byte (tiny random SD models), whose untrusted strings are only ever data, and the A1111 text."""

from __future__ import annotations

import ast
import io
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from chatgenbench.cli import main
from chatgenbench.render.cache import encode_png
from chatgenbench.render.manifest import read_manifest
from chatgenbench.render.png_parameters import PARAMETERS_CHUNK, png_parameters
from chatgenbench.render.recipes import Recipe, RecipeError, build_recipe, diffusers_script
from tests.conftest import sample_predictions, write_predictions

#: Prompts that would be code, a forged line, or an unencodable string if treated as anything but
#: data. (A lone surrogate cannot reach a render, validation refuses it; the data test has it.)
HOSTILE_PROMPT = (
    "a \"quoted\" 'cat' '''triple''' \"\"\"triple\"\"\" back\\slash \\n\n"
    "Negative prompt: forged\nSteps: 1, Seed: 9\n__import__('os').system('touch {marker}')"
)


def _rerun(script_path: Path, out: Path) -> bytes:
    """Run a recipe script in a fresh interpreter (nothing of chatgenbench imported)."""
    subprocess.run(
        [sys.executable, str(script_path), str(out)],
        check=True, capture_output=True, timeout=600, cwd=script_path.parent,
    )  # fmt: skip
    return out.read_bytes()


def _same_png_as_the_engine(engine_png: bytes, rerun_png: bytes, key: str) -> bool:
    """Whether the rerun's image, written as the engine writes PNGs, is the engine's PNG."""
    from PIL import Image

    image = Image.open(io.BytesIO(rerun_png))
    image.load()
    return encode_png(image, key, png_parameters(engine_png)) == engine_png


@pytest.fixture(scope="module")
def hostile_run(tiny_models, tmp_path_factory):
    """One sample (a LoRA on SD 1.5) rendered with a hostile prompt and negative prompt."""
    from chatgenbench.render import render_predictions

    folder = tmp_path_factory.mktemp("hostile-run")
    marker = folder / "PWNED"
    row = sample_predictions()[0]
    row["prompt"] = HOSTILE_PROMPT.format(marker=marker)
    row["negative_prompt"] = "'); __import__('os').system('touch " + str(marker) + "') #\\"
    predictions = write_predictions(folder / "pred.jsonl", [row])
    report = render_predictions(
        predictions, "sample", catalog=tiny_models.overlay, out_dir=folder / "out",
        cache_dir=folder / "cache", progress=False, threads=1,
    )  # fmt: skip
    return folder, report, row, marker


def test_the_script_reproduces_the_engine_png_byte_for_byte(hostile_run, tiny_models, tmp_path):
    folder, report, row, marker = hostile_run
    record = next(r for r in read_manifest(report.out_dir) if r.id == row["id"])
    assert record.has_image
    recipe = build_recipe(report.out_dir, row["id"], catalog=tiny_models.overlay)
    assert recipe.data["prompt"] == row["prompt"] and recipe.data["lora"] is not None
    script = tmp_path / "recipe.py"
    script.write_text(diffusers_script(recipe), "utf-8")
    engine_png = (report.out_dir / record.image).read_bytes()
    rerun = _rerun(script, tmp_path / "rerun.png")
    assert _same_png_as_the_engine(engine_png, rerun, record.cache_key)
    assert not marker.exists()  # the prompts were rendered, never run


def test_a_checkpoint_without_lora_reproduces_too(sample_run, tiny_models, tmp_path):
    _, _, report = sample_run
    record = next(r for r in read_manifest(report.out_dir) if r.id == "sample-0002")
    recipe = build_recipe(report.out_dir, "sample-0002", catalog=tiny_models.overlay)
    assert recipe.data["lora"] is None
    script = tmp_path / "recipe.py"
    script.write_text(diffusers_script(recipe), "utf-8")
    engine_png = (report.out_dir / record.image).read_bytes()
    assert _same_png_as_the_engine(engine_png, _rerun(script, tmp_path / "o.png"), record.cache_key)


HOSTILE_STRINGS = [
    "quote \" and ' and \"\"\" and '''",
    "back\\slash\\",
    "new\nline\r\n\u2028",
    "__import__('os').system('touch {marker}')",
    "lone \ud800 surrogate \udfff",
    '"); __import__("os").system("touch {marker}"); ("',
    "{braces} {0} %s",
]


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS)
def test_untrusted_strings_are_only_ever_data_in_the_script(hostile, tmp_path):
    marker = tmp_path / "PWNED"
    hostile = hostile.replace("{marker}", str(marker))
    data = {
        "sample_id": hostile, "model": hostile, "prompt": hostile, "negative_prompt": hostile,
        "checkpoint": {"name": hostile, "path": hostile, "form": "single_file", "config": None},
        "lora": None, "seed": 1,
    }  # fmt: skip
    script = diffusers_script(Recipe(hostile, "", data))
    tree = ast.parse(script)
    # The module does three things: import, decode one string constant, define and guard.
    assigns = [n for n in tree.body if isinstance(n, ast.Assign)]
    assert len(assigns) == 1 and ast.unparse(assigns[0].targets[0]) == "RECIPE"
    call = assigns[0].value
    assert ast.unparse(call.func) == "json.loads" and isinstance(call.args[0], ast.Constant)
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert not any(hostile in str(c) for c in constants if c is not call.args[0].value)
    assert script.isascii()
    loaded = runpy.run_path(str(_write(tmp_path / "r.py", script)), run_name="not_main")
    assert loaded["RECIPE"] == data  # every string back exactly, lone surrogates included
    assert not marker.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_what_cannot_be_reproduced_is_refused(sample_run, tiny_models, tmp_path):
    import shutil

    _, _, report = sample_run
    with pytest.raises(RecipeError, match="no sample 'nope'"):
        build_recipe(report.out_dir, "nope", catalog=tiny_models.overlay)
    with pytest.raises(RecipeError, match="has no image"):
        build_recipe(report.out_dir, "sample-0005", catalog=tiny_models.overlay)
    # Another file under the checkpoint's name: its hash is not the image's.
    lines = [json.loads(x) for x in tiny_models.overlay.read_text().splitlines()]
    for line in lines:
        if line["name"] == "hellorealisticman_V12a":
            line["weights"]["path"] = str(tiny_models.root / "v1-5-pruned-emaonly.safetensors")
            line["weights"]["config"] = str(tiny_models.root / "configs" / "sd15")
        elif line["weights"].get("path") and not Path(line["weights"]["path"]).is_absolute():
            line["weights"]["path"] = str(tiny_models.root / line["weights"]["path"])
            if line["weights"].get("config"):
                line["weights"]["config"] = str(tiny_models.root / line["weights"]["config"])
    swapped = _write(tmp_path / "swapped.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    record = next(r for r in read_manifest(report.out_dir) if r.model == "hellorealisticman_V12a")
    with pytest.raises(RecipeError, match="would not reproduce it"):
        build_recipe(report.out_dir, record.id, catalog=swapped)
    # A PNG from another sample, and a PNG without its parameters.
    copy = Path(shutil.copytree(report.out_dir, tmp_path / "render"))
    records = {r.id: r for r in read_manifest(copy)}
    (copy / records["sample-0002"].image).write_bytes(
        (copy / records["sample-0003"].image).read_bytes()
    )
    with pytest.raises(RecipeError, match="does not name the manifest's cache key"):
        build_recipe(copy, "sample-0002", catalog=tiny_models.overlay)
    from PIL import Image

    image = Image.open(copy / records["sample-0003"].image)
    image.load()
    stripped = encode_png(image, records["sample-0003"].cache_key)
    assert PARAMETERS_CHUNK not in Image.open(io.BytesIO(stripped)).text
    (copy / records["sample-0003"].image).write_bytes(stripped)
    with pytest.raises(RecipeError, match="no 'parameters' chunk"):
        build_recipe(copy, "sample-0003", catalog=tiny_models.overlay)


def test_the_recipe_command_writes_a1111_text_and_scripts(
    sample_run, tiny_models, tmp_path, capsys
):
    _, _, report = sample_run
    record = next(r for r in read_manifest(report.out_dir) if r.id == "sample-0001")
    out = tmp_path / "params.txt"
    base = ["recipe", str(report.out_dir), "--catalog", str(tiny_models.overlay)]
    assert main([*base, "--id", "sample-0001", "--format", "a1111", "--out", str(out)]) == 0
    assert out.read_text() == png_parameters((report.out_dir / record.image).read_bytes()) + "\n"
    assert main([*base, "--id", "sample-0001", "--out", str(tmp_path / "r.py")]) == 0
    ast.parse((tmp_path / "r.py").read_text())
    capsys.readouterr()
    assert main([*base, "--id", "sample-0005", "--out", str(tmp_path / "x.py")]) == 2
    assert "has no image" in capsys.readouterr().err and not (tmp_path / "x.py").exists()
