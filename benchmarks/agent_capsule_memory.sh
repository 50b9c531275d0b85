#!/usr/bin/env bash
# The acting agent with and without the capsule scene memory (issue 14), imitation only.
#
# The same 1,800 demonstration episodes (same seeds, so the same states and labels) are recorded
# again with the capsule memory appended to the features (rl.capsule_memory), and a policy is
# cloned on them with the same settings and seed as the default's imitation policy
# (runs/default/rl/imitation, which reads the encoder's features only). Both are scored on the
# same fresh layouts (10 per task, validation phrasings; from 7,000,000 on, which no choice read).
# The memory's streams: the periphery, which the scene estimate chose on the attention stage's
# validation bank (`saccade eval capsules`, in_agent.scene_estimate.memory_streams).
#
#   bash benchmarks/agent_capsule_memory.sh [PARSER_RUN]   # PARSER_RUN: a run whose capsules are read (runs/capsD)
set -euo pipefail
cd "$(dirname "$0")/.."
parser_run=${1:-runs/capsD}
d=runs/agent_capsule_memory
mkdir -p "$d"
for s in collect encoder language; do [ -e "$d/$s" ] || cp -al "runs/default/$s" "$d/$s"; done
[ -e "$d/capsules" ] || cp -al "$parser_run/capsules" "$d/capsules"
resume=""; [ -e "$d/rl" ] && resume="--resume"
/usr/bin/time -v .venv/bin/saccade train rl $resume --config configs/default.yaml --run-dir "$d" \
  --set 'rl.capsule_memory=[periphery]' --set rl.ppo_steps=0 --set rl.narration_episodes_per_task=0 \
  > "$d/train.log" 2>&1
out=benchmarks/results/agent_capsule_memory.jsonl
: > "$out.tmp"
for p in runs/default/rl/imitation "$d/rl"; do
  .venv/bin/python benchmarks/score_policy.py "$p" 10 --fresh | tee -a "$out.tmp"
done
mv "$out.tmp" "$out"  # the earlier results stay until both scores are in
