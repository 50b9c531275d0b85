#!/usr/bin/env bash
# What each reward contributes to the thin RL layer: PPO from the same imitation policy with the
# learned reward only, the task's success only, or both (the default), each scored on the same
# 10 held-out layouts per task with the validation phrasings. Needs a trained runs/default.
set -euo pipefail
cd "$(dirname "$0")/.."
for r in learned success; do
  d=runs/reward_$r; rm -rf "$d"; mkdir -p "$d/rl"
  for s in collect encoder language; do cp -al "runs/default/$s" "$d/$s"; done
  cp -al runs/default/rl/demos runs/default/rl/imitation "$d/rl/"
  .venv/bin/saccade train rl --resume --config configs/default.yaml --run-dir "$d" --set rl.reward=$r > "$d/train.log" 2>&1
done
for p in runs/default/rl/imitation runs/default/rl runs/reward_learned/rl runs/reward_success/rl; do
  .venv/bin/python benchmarks/score_policy.py "$p" 10
done
