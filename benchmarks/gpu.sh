#!/usr/bin/env bash
# Every GPU measurement of the project in one call of at most 8 minutes on one H100/H200:
#
#   1. render: full-size SD 1.5 with random weights (--arch sd15-full), fp16, 512x512, 25 steps,
#      batch 1, 4 and 8: the engine against a bare diffusers loop on the same requests
#      (benchmarks/render.py; images/s and ratio, target >= 0.95 at every batch size);
#   2. loads: a checkpoint load from a safetensors file, cold and warm, the first-load sha256
#      check, and a LoRA load and unload (benchmarks/loads.py); the first-run figures:
#      first_load_s (cold file, the digest checked on a background thread as the engine does),
#      the check's own time, bare_cold_load_s and first_load_over_bare_cold (target <= 1.5);
#   3. first_run: two cold full-size checkpoints with catalogue digests, the engine against a bare
#      loop that checks, loads and renders each in turn (benchmarks/render.py --mixes first-run;
#      first_run_engine_over_bare, target <= 0.6, and pixels_identical);
#   4. metrics: each image metric at full size (Inception, CLIP ViT-L/14, HPS ViT-H-14,
#      ImageReward) against its bare reference call (benchmarks/metrics.py; images/s and ratio).
#
# Each step runs under its own time limit, so that a slow step costs only itself. Every log, the
# step's last JSON line, and gpu_costs.json (measured CostModel figures for
# `benchmarks/render.py --simulate --costs gpu_costs.json`) go to OUT_DIR; the last line printed
# is one JSON object with every figure (benchmarks/gpu_summary.py).
#
#   benchmarks/gpu.sh [OUT_DIR]          (default: $OUT, else a new temporary folder)
#   CHATGENBENCH_GPU_TINY=1 benchmarks/gpu.sh [OUT_DIR]
#       the same steps at tiny size on the CPU: the smoke run that shows the script works.
set -u
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-$(mktemp -d -t chatgenbench-gpu-XXXXXX)}}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1
PY=${PYTHON:-python}
TINY=${CHATGENBENCH_GPU_TINY:-0}

if [ "$TINY" = 1 ]; then
  RENDER=(--arch sd15-tiny --device cpu --steps 4 --size 64 --single-images 8 --threads 1)
  LOADS=(--arch sd15-tiny --device cpu --repeats 1)
  FIRST=(--arch sd15-tiny --device cpu --steps 4 --size 64 --checkpoints 2 --threads 1)
  METRICS=(--device cpu --images 8 --batch-size 4 --repeats 1)
  LIMITS=(300 120 200 300)
else
  if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device is visible; for the CPU smoke run set CHATGENBENCH_GPU_TINY=1" >&2
    exit 2
  fi
  RENDER=(--arch sd15-full --device cuda --steps 25 --size 512 --single-images 16)
  LOADS=(--arch sd15-full --device cuda --repeats 2)
  FIRST=(--arch sd15-full --device cuda --steps 25 --size 512 --checkpoints 2 --per-checkpoint 4)
  METRICS=(--device cuda --images 128 --batch-size 32 --repeats 2)
  LIMITS=(170 90 90 130)  # 480 s in all
fi
RENDER+=(--checkpoints 1 --mixes single_checkpoint --batch-sizes 1,4,8 --repeats 2)

step() {  # step NAME LIMIT_S SCRIPT ARGS...: run one measurement, keep its log and exit status
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$PY" "$@" --workdir "$OUT_DIR/work-$name" \
    >"$OUT_DIR/$name.log" 2>&1
  rc=$?
  echo "$rc" >"$OUT_DIR/$name.rc"
  echo "$(( $(date +%s) - start ))" >"$OUT_DIR/$name.seconds"
  echo "step $name: exit $rc after $(( $(date +%s) - start )) s (limit $limit s)"
}

nvidia-smi >"$OUT_DIR/nvidia-smi.txt" 2>&1 || true
step render "${LIMITS[0]}" benchmarks/render.py "${RENDER[@]}"
CHECKPOINT="$OUT_DIR/work-render/bench_ckpt_00.safetensors"
if [ -f "$CHECKPOINT" ]; then  # the render step's checkpoint: no second build
  LOADS+=(--from-checkpoint "$CHECKPOINT" --config "$OUT_DIR/work-render/config")
fi
step loads "${LIMITS[1]}" benchmarks/loads.py "${LOADS[@]}"
step first_run "${LIMITS[2]}" benchmarks/render.py "${FIRST[@]}" --mixes first-run --repeats 1
step metrics "${LIMITS[3]}" benchmarks/metrics.py "${METRICS[@]}"
rm -rf "$OUT_DIR"/work-*  # checkpoints of gigabytes: never sent back
"$PY" benchmarks/gpu_summary.py "$OUT_DIR"
