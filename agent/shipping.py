"""Ship a trained run as saccade's default agent: copy the models that acting needs into
agent/shipped (the layout of a run folder), with what produced them written beside them.

    python -m agent.shipping runs/default [--eval benchmarks/results/agent.json]

Only safetensors, JSON and YAML are copied (the encoder, the command parser, the narrator and
the policy); nothing in them is pickled.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from agent.runs import RunLayout

SHIPPED = Path(__file__).parent / "shipped"
MAX_MB = 25.0


def _files(run: RunLayout) -> list[Path]:
    files = [run.encoder / "encoder.json", run.encoder / "encoder.safetensors",
             run.commands / "config.json", run.commands / "weights.safetensors",
             run.narrator / "narrator.json", run.narrator / "narrator.safetensors", run.narrator / "tokenizer.json",
             run.rl / "policy.json", run.rl / "policy.safetensors", run.rl / "config.yaml"]
    adapted = run.rl / "narrator"  # the narrator adapted to the agent (agent/rl/narration.py), when trained
    if (adapted / "narrator.json").exists():
        files += [adapted / "narrator.json", adapted / "narrator.safetensors", adapted / "tokenizer.json"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{run.root} lacks what the agent needs: {', '.join(missing)}; "
                                "train it with `saccade train all`")
    return files


def ship(run_dir: str | Path, dest: Path = SHIPPED, eval_json: Path | None = None, note: str | None = None) -> dict:
    run = RunLayout(run_dir)
    files = _files(run)
    size_mb = sum(f.stat().st_size for f in files) / 2 ** 20
    if size_mb > MAX_MB:
        raise ValueError(f"the models take {size_mb:.1f} MB, more than the {MAX_MB} MB a shipped agent may")
    figures = json.loads(Path(eval_json).read_text()) if eval_json is not None else None  # before anything is deleted
    if dest.exists():
        shutil.rmtree(dest)
    for f in files:
        target = dest / f.relative_to(run.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    stage_times = {}
    for stage in ("collect", "encoder", "capsules", "language", "rl"):
        try:
            metrics = json.loads((run.root / stage / "metrics.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        stage_times[stage] = _wall(metrics)
    manifest = {"trained_with": "saccade train all --config configs/default.yaml", "run": str(run.root),
                "seed": json.loads((run.rl / "policy.json").read_text()).get("seed"),
                "commit": json.loads((run.rl / "policy.json").read_text()).get("commit"),
                "stage_wall_time_s": stage_times, "size_mb": round(size_mb, 2),
                "files": [str(f.relative_to(run.root)) for f in files]}
    if note:
        manifest["note"] = note
    if figures is not None:
        manifest["evaluation"] = {"command": "saccade eval agent --json", "file": str(eval_json),
                                  **{k: figures.get(k) for k in ("success_mean", "success_min", "chain_average",
                                                                 "hacked_fraction", "latency_ms", "baselines")}}
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    write_stage_manifests(dest)
    return manifest


def write_stage_manifests(dest: Path = SHIPPED) -> None:
    """A stage manifest (size and sha256 of each file, agent.integrity) in each shipped stage folder,
    so that a shipped file changed or cut short is refused when it loads, as in a run folder."""
    from agent.integrity import write_manifest

    for stage in ("encoder", "language", "rl"):
        if (dest / stage).is_dir():
            write_manifest(dest / stage, stage)


def _wall(metrics: dict) -> float | None:
    """A stage's wall time: its own figure, or the sum over its parts (language: three models)."""
    if isinstance(metrics.get("wall_time_s"), (int, float)):
        return metrics["wall_time_s"]
    if isinstance(metrics.get("times"), dict):
        return round(sum(v for v in metrics["times"].values() if isinstance(v, (int, float))), 1)
    parts = [_wall(v) for v in metrics.values() if isinstance(v, dict)]
    parts = [p for p in parts if p is not None]
    return round(sum(parts), 1) if parts else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent.shipping", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", help="the trained run folder, e.g. runs/default")
    p.add_argument("--eval", default=None, help="the agent's evaluation JSON to record beside the models")
    p.add_argument("--note", default=None, help="how the run was made, where it differs from one `train all`")
    args = p.parse_args(argv)
    try:
        manifest = ship(args.run_dir, eval_json=Path(args.eval) if args.eval else None, note=args.note)
    except (FileNotFoundError, ValueError) as e:  # a bad --eval file, too (JSONDecodeError is a ValueError)
        print(f"ship: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
