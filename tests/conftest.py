"""Shared fixtures: the embedded sample, perfect predictions, a persistent MiniLM scorer, and tiny
random-weight SD 1.5 and SDXL models saved the ways real weights come."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# Caches that code under test keeps in $CHATGENBENCH_HOME (BERTScore reference embeddings, renders)
# go to a folder of this run, never to the user's home; a test that needs its own sets it itself.
if "CHATGENBENCH_HOME" not in os.environ:
    import atexit
    import shutil

    os.environ["CHATGENBENCH_HOME"] = tempfile.mkdtemp(prefix="chatgenbench-tests-home-")
    atexit.register(shutil.rmtree, os.environ["CHATGENBENCH_HOME"], ignore_errors=True)


@dataclass
class TinyModels:
    """Where the session's tiny models lie, and an overlay catalogue that points at them."""

    root: Path
    overlay: Path
    present: tuple[str, ...]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """Build tiny SD 1.5 / SDXL pipelines once and save them as single files, folders and LoRAs.

    The overlay catalogue gives weights to seven models of the embedded sample's catalogue (the two
    bases, three SD 1.5 and one SDXL checkpoint in different forms, two LoRAs); the rest stay
    without weights.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # building is fastest on one thread on a shared machine
    try:
        return _build_tiny_models(tmp_path_factory.mktemp("tiny-models"))
    finally:
        torch.set_num_threads(threads)


def _build_tiny_models(root: Path) -> TinyModels:
    from chatgenbench.testing.sd_models import (
        build_pipeline,
        save_config_folder,
        save_lora,
        save_single_file,
    )

    sd15 = build_pipeline("sd15-tiny", seed=0, workdir=root / "work")
    save_single_file(sd15, root / "v1-5-pruned-emaonly.safetensors")
    save_config_folder(sd15, root / "configs" / "sd15")
    save_lora(sd15, root / "loras" / "Small_Mostersv2.safetensors", seed=1)
    build_pipeline("sd15-tiny", seed=1, workdir=root / "work").save_pretrained(
        root / "devlishphotorealism_v40"
    )
    save_single_file(
        build_pipeline("sd15-tiny", seed=2, workdir=root / "work"),
        root / "hellorealisticman_V12a.safetensors",
    )
    sdxl = build_pipeline("sdxl-tiny", seed=3, workdir=root / "work")
    save_single_file(sdxl, root / "sd_xl_base_1.0.safetensors")
    save_config_folder(sdxl, root / "configs" / "sdxl")
    save_lora(sdxl, root / "loras" / "rolua.safetensors", seed=4)
    build_pipeline("sdxl-tiny", seed=5, workdir=root / "work").save_pretrained(
        root / "samaritan3dCartoon_v40SDXL"
    )

    def single(name: str, arch: str) -> dict:
        return {"type": "single_file", "path": f"{name}.safetensors", "config": f"configs/{arch}"}

    lines = [
        {"name": "v1-5-pruned-emaonly", "weights": single("v1-5-pruned-emaonly", "sd15")},
        {"name": "hellorealisticman_V12a", "weights": single("hellorealisticman_V12a", "sd15")},
        {"name": "devlishphotorealism_v40",
         "weights": {"type": "diffusers", "path": "devlishphotorealism_v40"}},
        {"name": "Small_Mostersv2",
         "weights": {"type": "single_file", "path": "loras/Small_Mostersv2.safetensors"}},
        {"name": "sd_xl_base_1.0", "weights": single("sd_xl_base_1.0", "sdxl")},
        {"name": "samaritan3dCartoon_v40SDXL",
         "weights": {"type": "diffusers", "path": "samaritan3dCartoon_v40SDXL"}},
        {"name": "rolua", "weights": {"type": "single_file", "path": "loras/rolua.safetensors"}},
    ]  # fmt: skip
    overlay = root / "weights.jsonl"
    overlay.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    return TinyModels(root, overlay, tuple(line["name"] for line in lines))


def write_predictions(path: Path, rows: list[dict]) -> Path:
    """Write prediction rows as JSONL and return the path."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    return path


def sample_predictions(size: int = 64, steps: int = 3) -> list[dict]:
    """Return the paper's 12 answers as predictions, shrunk to ``size`` pixels and ``steps`` steps."""
    from chatgenbench.benchmark.loading import sample_records

    rows = []
    for record in sample_records():
        arguments = dict(record["arguments"], width=size, height=size, steps=steps)
        rows.append(
            {
                "id": record["id"],
                "prompt": record["prompt"],
                "negative_prompt": "",
                "model": record["model"],
                "arguments": arguments,
            }
        )
    return rows


#: The sample ids whose predicted model has weights in the tiny overlay catalogue.
RENDERABLE = {"sample-0001", "sample-0002", "sample-0003", "sample-0004", "sample-0007"}


@pytest.fixture(scope="session")
def sample_run(tiny_models, tmp_path_factory):
    """The sample's 12 answers rendered once (64 px, 3 steps) through the tiny models, locally."""
    from chatgenbench.render import render_predictions

    folder = tmp_path_factory.mktemp("sample-run")
    predictions = write_predictions(folder / "pred.jsonl", sample_predictions())
    report = render_predictions(
        predictions,
        "sample",
        catalog=tiny_models.overlay,
        out_dir=folder / "out",
        cache_dir=folder / "cache",
        progress=False,
        threads=1,
    )
    return folder, predictions, report


@pytest.fixture(scope="session")
def sample_rows():
    from chatgenbench import load_benchmark

    return load_benchmark("supervised", "sample").to_list()


@pytest.fixture(scope="session")
def minilm_scorer():
    from chatgenbench.metrics.bertscore import PromptBERTScore

    return PromptBERTScore("minilm", batch_size=16)


def write_jsonl(path: Path, records) -> Path:
    """Write records (dicts or raw strings) one per line."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def perfect_prediction(row: dict) -> dict:
    """A prediction that repeats the reference exactly."""
    return {
        "id": row["id"],
        "prompt": row["prompt"],
        "negative_prompt": row["negative_prompt"],
        "model": row["model"],
        "arguments": {k: v for k, v in row["arguments"].items() if v is not None},
    }


@pytest.fixture(scope="session")
def metric_models(tmp_path_factory) -> dict[str, str]:
    """Tiny random CLIP, HPS v2 and ImageReward models saved locally, and an FID cache folder."""
    from chatgenbench.metrics.clip_score import write_clip
    from chatgenbench.metrics.hps import write_hps
    from chatgenbench.metrics.image_reward import write_image_reward

    root = tmp_path_factory.mktemp("metric-models")
    return {
        "clip": str(write_clip(root / "clip")),
        "hps": str(write_hps(root / "hps")),
        "ir": str(write_image_reward(root / "ir")),
        "cache": str(root / "fid_cache"),
    }


#: Every process the suite starts inherits this variable (with the session's token), so the
#: servers it leaves behind can be found by their environment and not by a name.
SESSION_MARKER = "CHATGENBENCH_TEST_SESSION"


def processes_of_this_session(word: str = "streamlit") -> list[tuple[int, str]]:
    """Return ``(pid, command line)`` of live processes with this session's marker and ``word``."""
    import os

    token = os.environ.get(SESSION_MARKER)
    if not token or not Path("/proc").is_dir():
        return []
    needle = f"{SESSION_MARKER}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and needle in environ.split(b"\0") and word in cmdline:
            found.append((int(entry.name), cmdline.strip()))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_server_left_behind():
    """Fail the session when a streamlit server that the suite started is still running."""
    import os
    import signal
    import uuid

    os.environ[SESSION_MARKER] = uuid.uuid4().hex
    yield
    left = processes_of_this_session("streamlit")
    for pid, _ in left:  # ours (marked): stop them by PID so that the machine is left clean
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"streamlit servers left running by the test suite: {left}"


@pytest.fixture(scope="session")
def demo_weights(tmp_path_factory) -> dict:
    """``chatgenbench weights demo`` output for the sample, built once (random weights)."""
    from chatgenbench.testing.demo_weights import write_demo_weights

    return write_demo_weights(tmp_path_factory.mktemp("demo-weights"), "sample", progress=False)
