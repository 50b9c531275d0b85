#!/usr/bin/env bash
# GPU check, run on a lent GPU machine over a copy of the working tree (torch there, no
# pybullet): the learning stages on recorded play data, unchanged but for --device cuda.
# Carries: runs/default/collect (the play data) and .devpy (gymnasium, which the
# machine lacks). Results land in $OUT.
set -euo pipefail
export PYTHONPATH="$PWD:$PWD/.devpy" HF_HUB_OFFLINE=1
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT" runs/gpu
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"
python3 -m agent.cli bench encoder --device cuda --json --out "$OUT/bench_encoder_cuda.json" > /dev/null
ln -sfn "$PWD/runs/default/collect" runs/gpu/collect
start=$(date +%s)
python3 -m agent.cli train encoder --device cuda --run-dir runs/gpu > "$OUT/train_encoder_cuda.log" 2>&1
echo "encoder wall_s $(( $(date +%s) - start ))" | tee -a "$OUT/gpu.txt"
cp runs/gpu/encoder/metrics.json "$OUT/encoder_metrics_cuda.json"
start=$(date +%s)
python3 -m agent.cli train capsules --device cuda --run-dir runs/gpu > "$OUT/train_capsules_cuda.log" 2>&1
echo "capsules wall_s $(( $(date +%s) - start ))" | tee -a "$OUT/gpu.txt"
cp runs/gpu/capsules/metrics.json "$OUT/capsules_metrics_cuda.json"
cp runs/gpu/capsules/reconstructions.png "$OUT/capsules_reconstructions_cuda.png"
