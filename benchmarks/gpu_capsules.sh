#!/usr/bin/env bash
# Capsule stage on a lent GPU machine: train (default config) and evaluate on recorded play
# data. Carries runs/default/collect and .devpy (gymnasium). Results land in $OUT.
set -euo pipefail
export PYTHONPATH="$PWD:$PWD/.devpy" HF_HUB_OFFLINE=1
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT" runs/gpucaps
ln -sfn "$PWD/runs/default/collect" runs/gpucaps/collect
start=$(date +%s)
python3 -m agent.cli train capsules --device cuda --run-dir runs/gpucaps > "$OUT/train_capsules.log" 2>&1
echo "train capsules wall_s $(( $(date +%s) - start ))" | tee "$OUT/timing.txt"
start=$(date +%s)
python3 -m agent.cli eval capsules --device cuda --run-dir runs/gpucaps --json --out "$OUT/capsules_eval.json" \
  > /dev/null 2> "$OUT/eval_capsules.err"
echo "eval capsules wall_s $(( $(date +%s) - start ))" | tee -a "$OUT/timing.txt"
cp runs/gpucaps/capsules/capsules.safetensors runs/gpucaps/capsules/capsules.json "$OUT/"
cp runs/gpucaps/capsules/metrics.json "$OUT/capsules_train_metrics.json"
cp runs/gpucaps/eval_capsules/reconstructions.png "$OUT/capsules_reconstructions.png"
