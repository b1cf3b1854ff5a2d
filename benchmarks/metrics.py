"""Image-metric throughput: the engine's metric objects against the bare reference calls.

For each metric, the same images (and prompts) go through

- the engine: ``fid.fid_features`` (FID's update step), ``CLIPScore.update``, ``HPSv2.update``,
  ``ImageReward.update`` (PIL images in, preprocessing included);
- the reference: torchmetrics' ``FrechetInceptionDistance.update`` (same Inception module),
  torchmetrics' ``CLIPScore.update`` (same CLIP), a bare open_clip forward with open_clip's own
  ``image_transform(resize_mode="longest")`` (HPS v2's call), and a direct forward of the same
  ImageReward network with torchvision's ImageReward transform.

It prints images/s of both, their ratio (engine / reference; target >= 0.9) and the largest
difference between their scores. On CPU it uses tiny random models and the real FID Inception; on
CUDA the full-size architectures with random weights (CLIP ViT-L/14, open_clip ViT-H-14, BLIP
ViT-L + BERT). The last line printed is one JSON object.

    python benchmarks/metrics.py [--images N] [--batch-size B] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _images(n: int, size: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        out.append(Image.fromarray(base).resize((size, size), Image.BILINEAR))
    return out


def _timed(function, repeats: int = 1, warmup: bool = True) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls (after one untimed warm-up call) and the last result."""
    import torch

    if warmup:
        function()
    best, result = float("inf"), None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def _compare(run_engine, run_reference, repeats: int, warmup: bool = True):
    """Time engine and reference alternately (so load on a shared machine hits both alike):
    return (best engine s, best reference s, engine result, reference result)."""
    if warmup:
        run_engine()
        run_reference()
    t_engine, t_reference = float("inf"), float("inf")
    v_engine = v_reference = None
    for _ in range(repeats):
        t, v_engine = _timed(run_engine, 1, warmup=False)
        t_engine = min(t_engine, t)
        t, v_reference = _timed(run_reference, 1, warmup=False)
        t_reference = min(t_reference, t)
    return t_engine, t_reference, v_engine, v_reference


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bench_fid(images, batch, device, repeats):
    repeats = min(repeats, 2)  # the real Inception: at most two timed passes each on a CPU
    import torch
    from PIL import Image
    from torchmetrics.image.fid import FrechetInceptionDistance as TorchmetricsFID
    from torchvision.transforms.functional import pil_to_tensor

    from chatgenbench.metrics.fid import FeatureStats, fid_features, load_inception

    extractor = load_inception(device)
    extractor(torch.zeros(2, 3, 299, 299, dtype=torch.uint8))  # TorchScript warm-up

    def run_engine():
        fake = FeatureStats.of(fid_features(images, extractor, batch_size=batch))
        return fake.total / fake.n

    reference = TorchmetricsFID(feature=extractor.as_module()).to(device)

    def run_reference():
        reference.reset()
        for part in _batches(images, batch):
            tensors = torch.stack(
                [pil_to_tensor(i.convert("RGB").resize((299, 299), Image.BICUBIC)) for i in part]
            )
            reference.update(tensors.to(device), real=False)
        return (reference.fake_features_sum / reference.fake_features_num_samples).cpu().numpy()

    # the Inception is warmed up above; a second full pass would double the CPU run
    t_engine, t_reference, mean_engine, mean_reference = _compare(
        run_engine, run_reference, repeats, warmup=False
    )
    diff = float(abs(mean_engine - mean_reference).max())
    return t_engine, t_reference, diff, "mean Inception feature"


def bench_clip(images, texts, batch, device, size, folder, repeats):
    import torch
    from torchmetrics.multimodal.clip_score import CLIPScore as TorchmetricsCLIPScore
    from torchvision.transforms.functional import pil_to_tensor
    from transformers import CLIPModel

    from chatgenbench.metrics.clip_score import CLIPScore, load_clip, write_clip

    path = write_clip(folder / "clip", size=size)
    bundle = load_clip(path, device=device)
    engine = CLIPScore(bundle, variant="torchmetrics")

    def run_engine():
        engine.reset()
        for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
            engine.update(imgs, txts)
        return engine.compute()

    class PooledCLIP(
        CLIPModel
    ):  # torchmetrics 1.9 calls .norm() on what transformers 5 returns as a model output
        def get_image_features(self, *args, **kwargs):
            return super().get_image_features(*args, **kwargs).pooler_output

        def get_text_features(self, *args, **kwargs):
            return super().get_text_features(*args, **kwargs).pooler_output

    model = PooledCLIP.from_pretrained(path, local_files_only=True).to(device).eval()
    reference = TorchmetricsCLIPScore(model_name_or_path=lambda: (model, bundle.processor)).to(
        device
    )

    def run_reference():
        reference.reset()
        with torch.inference_mode():
            for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
                reference.update([pil_to_tensor(i.convert("RGB")) for i in imgs], txts)
        return float(reference.compute())

    t_engine, t_reference, v_engine, v_reference = _compare(run_engine, run_reference, repeats)
    return t_engine, t_reference, abs(v_engine - v_reference), "CLIP score ×100"


def bench_hps(images, texts, batch, device, size, folder, repeats):
    import open_clip
    import torch
    from open_clip.transform import image_transform

    from chatgenbench.metrics.hps import TINY_HPS_ARCHITECTURE, HPSv2, load_hps, write_hps

    checkpoint = write_hps(folder / "hps", size=size)
    architecture = TINY_HPS_ARCHITECTURE if size == "tiny" else "ViT-H-14"
    bundle = load_hps(checkpoint, architecture=architecture, device=device)
    engine = HPSv2(bundle)

    def run_engine():
        engine.reset()
        for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
            engine.update(imgs, txts)
        return engine.compute()

    model = bundle.model
    transform = image_transform(bundle.image_size, is_train=False, resize_mode="longest")
    tokenizer = open_clip.get_tokenizer(architecture)

    def run_reference():
        scores = []
        with torch.inference_mode():
            for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
                pixels = torch.stack([transform(i) for i in imgs]).to(device)
                image_features = model.encode_image(pixels, normalize=True)
                text_features = model.encode_text(tokenizer(txts).to(device), normalize=True)
                scores += (image_features * text_features).sum(-1).tolist()
        return 100 * sum(scores) / len(scores)

    t_engine, t_reference, v_engine, v_reference = _compare(run_engine, run_reference, repeats)
    return t_engine, t_reference, abs(v_engine - v_reference), "HPS v2 ×100"


def bench_image_reward(images, texts, batch, device, size, folder, repeats):
    import torch
    from torchvision import transforms

    from chatgenbench.metrics.image_reward import (
        OPENAI_MEAN,
        OPENAI_STD,
        ImageReward,
        load_image_reward,
        write_image_reward,
    )

    bundle = load_image_reward(write_image_reward(folder / "ir", size=size), device=device)
    engine = ImageReward(bundle)

    def run_engine():
        engine.reset()
        for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
            engine.update(imgs, txts)
        return engine.compute()

    n_px = bundle.image_size
    transform = transforms.Compose(
        [
            transforms.Resize(n_px, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            transforms.ToTensor(),
            transforms.Normalize(OPENAI_MEAN, OPENAI_STD),
        ]
    )

    def run_reference():
        scores = []
        with torch.inference_mode():
            for imgs, txts in zip(_batches(images, batch), _batches(texts, batch)):
                tokens = bundle.tokenizer(
                    txts, padding="max_length", truncation=True, max_length=35, return_tensors="pt"
                ).to(device)
                pixels = torch.stack([transform(i) for i in imgs]).to(device)
                rewards = bundle.model(pixels, tokens.input_ids, tokens.attention_mask)
                scores += rewards.float().cpu().tolist()
        return 100 * sum(scores) / len(scores)

    t_engine, t_reference, v_engine, v_reference = _compare(run_engine, run_reference, repeats)
    return t_engine, t_reference, abs(v_engine - v_reference), "ImageReward ×100"


def main() -> None:
    """Run every metric pair and print the table, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=None, help="default: 64 CPU, 256 CUDA")
    parser.add_argument(
        "--fid-images", type=int, default=None, help="images for FID (default: 16 CPU, all CUDA)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: 8 CPU, 32 CUDA")
    parser.add_argument("--image-size", type=int, default=None, help="default: 64 CPU, 512 CUDA")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=5, help="best of N alternating timings")
    parser.add_argument("--metrics", default="fid,clip_score,hps_v2,image_reward")
    parser.add_argument("--workdir", default=None, help="where the models are saved (default: tmp)")
    args = parser.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    size = "full" if cuda else "tiny"
    n = args.images or (256 if cuda else 64)
    n_fid = min(n, args.fid_images or (n if cuda else 16))
    batch = args.batch_size or (32 if cuda else 8)
    side = args.image_size or (512 if cuda else 64)
    if not cuda:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    images = _images(n, side)
    texts = [f"a {c} picture of a cat number {i}" for i, c in enumerate(["red", "blue"] * n)][:n]
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="chatgenbench-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    wanted = args.metrics.split(",")
    runners = {
        "fid": lambda: bench_fid(images[:n_fid], batch, device, args.repeats),
        "clip_score": lambda: bench_clip(images, texts, batch, device, size, folder, args.repeats),
        "hps_v2": lambda: bench_hps(images, texts, batch, device, size, folder, args.repeats),
        "image_reward": lambda: bench_image_reward(
            images, texts, batch, device, size, folder, args.repeats
        ),
    }
    reference_names = {
        "fid": "torchmetrics FrechetInceptionDistance.update",
        "clip_score": "torchmetrics CLIPScore.update",
        "hps_v2": "open_clip encode_image/encode_text (hpsv2's call)",
        "image_reward": "direct forward of the same ImageReward network",
    }
    print(
        f"device {device}, models {size}, {n} images ({n_fid} for FID) {side}x{side}, batch {batch}"
    )
    print(f"{'metric':<13} {'engine img/s':>12} {'ref img/s':>10} {'ratio':>6}  max |diff|")
    for name in wanted:
        t_engine, t_reference, diff, what = runners[name]()
        count = n_fid if name == "fid" else n
        results[name] = {
            "n_images": count,
            "engine_images_per_s": round(count / t_engine, 3),
            "reference_images_per_s": round(count / t_reference, 3),
            "ratio": round(t_reference / t_engine, 3),
            "max_abs_diff": diff,
            "compared": what,
            "reference": reference_names[name],
        }
        r = results[name]
        print(
            f"{name:<13} {r['engine_images_per_s']:>12.2f} {r['reference_images_per_s']:>10.2f} "
            f"{r['ratio']:>6.2f}  {diff:.2e} ({what})"
        )
    summary = {
        "benchmark": "image_metrics_throughput",
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        "models": size,
        "image_size": side,
        "batch_size": batch,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "metrics": results,
        "min_ratio": min(r["ratio"] for r in results.values()) if results else None,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
