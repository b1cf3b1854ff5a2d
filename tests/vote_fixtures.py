"""Helpers shared by the vote tests: a store of two real sample submissions with rendered images."""

from __future__ import annotations

import shutil
from pathlib import Path

from chatgenbench.render.manifest import IMAGES_DIR, RenderRecord, image_filename, write_manifest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ("no-finetune-sample", "retrieval-sample")


def write_render_dir(folder: Path, ids: list[str], colour: tuple[int, int, int]) -> None:
    """Write a render folder (manifest and one small PNG per id, of one colour) at ``folder``."""
    from PIL import Image

    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    records = []
    for sample_id in ids:
        relative = f"{IMAGES_DIR}/{image_filename(sample_id)}"
        Image.new("RGB", (64, 64), colour).save(folder / relative)
        records.append(
            RenderRecord(
                id=sample_id, setting="supervised", input_type="single", status="rendered",
                image=relative, seed=0,
            )
        )  # fmt: skip
    write_manifest(folder, records)


def vote_store(store: Path, ids: dict[str, list[str]]) -> Path:
    """Copy the repository's sample submissions into ``store``, each rendered for ``ids[name]``."""
    colours = [(200, 40, 40), (40, 40, 200), (40, 160, 40)]
    for number, name in enumerate(SUBMISSIONS):
        shutil.copytree(ROOT / "submissions" / name, store / name)
        if ids.get(name):
            write_render_dir(store / name / "render", ids[name], colours[number])
    return store
