#!/usr/bin/env bash
# Capsule stage on a lent GPU machine, two configurations side by side on one GPU:
#   default: the shipped config (fovea and periphery in turn);
#   fovea:   fovea only, 24 parts, 7x7 templates, 6000 steps (objects are larger in the fovea).
# Each is trained and evaluated (`saccade eval capsules`, zoom-split viewpoint test) on recorded
# play data. Carries runs/default/collect and .devpy (gymnasium). Results land in $OUT/<name>/.
set -uo pipefail
export PYTHONPATH="$PWD:$PWD/.devpy" HF_HUB_OFFLINE=1 OMP_NUM_THREADS=4  # two jobs share 16 cores
OUT=${OUT:-/tmp/gpu_out}
variant() {
  local name=$1; shift
  local run="runs/gpu_$name" out="$OUT/$name"
  mkdir -p "$run" "$out"
  ln -sfn "$PWD/runs/default/collect" "$run/collect"
  local start=$(date +%s)
  python3 -m agent.cli train capsules --device cuda --run-dir "$run" "$@" > "$out/train.log" 2>&1
  echo "train wall_s $(( $(date +%s) - start ))" > "$out/timing.txt"
  start=$(date +%s)
  python3 -m agent.cli eval capsules --device cuda --run-dir "$run" "$@" --json --out "$out/eval.json" \
    > /dev/null 2> "$out/eval.err"
  echo "eval wall_s $(( $(date +%s) - start ))" >> "$out/timing.txt"
  cp "$run/capsules/capsules.safetensors" "$run/capsules/capsules.json" "$run/capsules/metrics.json" "$out/"
  cp "$run/eval_capsules/reconstructions.png" "$out/" 2>/dev/null || true
}
variant default &
variant fovea --set 'capsules.streams=[fovea]' --set capsules.n_parts=24 --set capsules.template_size=7 \
  --set capsules.steps=6000 &
wait
nvidia-smi --query-gpu=name --format=csv,noheader > "$OUT/gpu.txt"
