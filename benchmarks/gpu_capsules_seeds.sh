#!/usr/bin/env bash
# Run-to-run spread of the capsule parser: the default config trained with seeds 1 and 2 side by
# side on one GPU (recorded play data; carries runs/default/collect and .devpy). The weights come
# back in $OUT/seeds.tgz and are evaluated with `saccade eval capsules` on a CPU.
set -uo pipefail
export PYTHONPATH="$PWD:$PWD/.devpy" HF_HUB_OFFLINE=1 OMP_NUM_THREADS=4
OUT=${OUT:-/tmp/gpu_out}
for seed in 1 2; do
  mkdir -p "runs/gpu_seed$seed"
  ln -sfn "$PWD/runs/default/collect" "runs/gpu_seed$seed/collect"
  python3 -m agent.cli train capsules --device cuda --run-dir "runs/gpu_seed$seed" --set seed=$seed \
    > "$OUT/train_seed$seed.log" 2>&1 &
done
wait
tar czf "$OUT/seeds.tgz" runs/gpu_seed*/capsules/capsules.{safetensors,json} runs/gpu_seed*/capsules/{config.yaml,metrics.json,reconstructions.png}
