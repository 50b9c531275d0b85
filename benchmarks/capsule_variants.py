"""Side by side: capsule parsers trained with different levers, scored by the same measures.

    python benchmarks/capsule_variants.py NAME=RUN_DIR [NAME=RUN_DIR ...] [--config C] [--out F.json]

Every run folder holds a trained capsules stage (`saccade train capsules --run-dir RUN_DIR
--set ...`) on the same play data. Each is scored on the same held-out glimpses as
`saccade eval capsules` and on one set of held-out pairs recorded with --config's pair
settings (`--pairs`, recorded the first time), whatever pairs a run trained on (object discovery in the fovea and the periphery with both
blind baselines, consistency, equivariance, scene-memory positions); nothing is trained
here. The training settings of each run are read from its capsules/config.yaml. The
variant to keep is chosen on training-chunk glimpses (`chosen_on_training_glimpses`), so
the held-out figures stay held out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import load_config  # noqa: E402
from agent.data.format import PlayData  # noqa: E402
from agent.perception.capsule_eval import discovery_both, load_glimpses, parse_all  # noqa: E402
from agent.perception.capsule_views import equivariance, memory_positions  # noqa: E402
from agent.perception.capsules import load_parser  # noqa: E402
from agent.perception.pairs import load_pairs, record_pairs  # noqa: E402
from agent.perception.stream import split_chunks  # noqa: E402
from agent.runs import RunLayout  # noqa: E402

LEVERS = ("located_parts", "equivariance_weight", "identity_weight", "streams", "steps", "n_parts", "template_size",
          "pixel_std", "pair_saccade", "pair_zoom_change", "identity_weighting")


def score(config, run_dir: Path, train: dict, test: dict, pairs: dict) -> dict:
    model = load_parser(RunLayout(run_dir).capsules)
    trained = yaml.safe_load((RunLayout(run_dir).capsules / "config.yaml").read_text())["capsules"]
    out = {"levers": {k: trained.get(k) for k in LEVERS}}
    found = discovery_both(lambda images: parse_all(model, images), test, config.seed)
    for key in ("discovery_fovea", "discovery"):
        d = found[key]
        out[key] = {k: round(d[k], 4) for k in ("objects_found", "objects_found_by_chance",
                                                  "objects_found_at_fixed_places", "objects_found_by_pose_translation",
                                                  "capsule_consistency", "consistent_capsules",
                                                  "present_capsules_per_view")}
        out[key]["per_object"] = d["objects_found_per_object"]
    # Objects found on training-chunk glimpses: what a choice between variants may look at (the
    # held-out figures above are then reported, not chosen on).
    on_train = discovery_both(lambda images: parse_all(model, images), train, config.seed)
    out["training_glimpses_found"] = {"fovea": round(on_train["discovery_fovea"]["objects_found"], 4),
                                      "periphery": round(on_train["discovery"]["objects_found"], 4)}
    out["equivariance"] = equivariance(model, pairs)
    out["scene_memory"] = memory_positions(model, pairs, train["world"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=RUN_DIR")
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--out", default=None)
    parser.add_argument("--pairs", default="runs/capsule_variants/pairs_test.npz",
                        help="the held-out pairs every run is scored on (recorded here the first time)")
    args = parser.parse_args()
    config = load_config(args.config)
    first = Path(args.runs[0].split("=", 1)[1])
    data = PlayData(RunLayout(first).collect)
    train_ids, test_ids = split_chunks(len(data), config.split.test_fraction)
    train = load_glimpses(data, train_ids, config.capsules.eval_samples, config.seed)
    test = load_glimpses(data, test_ids, config.capsules.eval_samples, config.seed + 1)
    pairs = load_pairs(Path(args.pairs))
    if pairs is None:
        record_pairs(config, Path(args.pairs), "test")
        pairs = load_pairs(Path(args.pairs))
    results = {"config": args.config, "test_views": len(test["episode"]), "pairs": len(pairs["state"]), "runs": {}}
    for item in args.runs:
        name, run_dir = item.split("=", 1)
        results["runs"][name] = score(config, Path(run_dir), train, test, pairs)
        r = results["runs"][name]
        print(f"{name}: fovea {r['discovery_fovea']['objects_found']:.3f} "
              f"(chance {r['discovery_fovea']['objects_found_by_chance']:.3f}, fixed "
              f"{r['discovery_fovea']['objects_found_at_fixed_places']:.3f}), periphery "
              f"{r['discovery']['objects_found']:.3f} (chance {r['discovery']['objects_found_by_chance']:.3f})",
              file=sys.stderr)
    # The rule: most objects found in fovea and periphery together, on training glimpses.
    results["chosen_on_training_glimpses"] = max(
        results["runs"], key=lambda n: sum(results["runs"][n]["training_glimpses_found"].values()))
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
