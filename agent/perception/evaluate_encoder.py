"""Compare five encoders by linear probes on held-out episodes (`saccade eval encoder`).

1. the contrastive encoder (`saccade train encoder`);
2. the same network with random weights;
3. the same network trained supervised end to end on the probe labels (upper reference);
4. the contrastive encoder trained without colour distortion (SimCLR's ablation);
5. the contrastive encoder trained with SimCLR's full colour distortion (hue rotation and
   random grayscale on top of the colour balance changes).
Ablations 4 and 5 are trained on first use and reused afterwards.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from agent.config import RunConfig, save_config
from agent.data.format import PlayData
from agent.perception.contrastive import train_contrastive
from agent.perception.encoder import EncoderSpec, GlimpseEncoder, load_encoder
from agent.weights import WeightsError
from agent.perception.probes import PROBES, load_split, majority_scores, probe_features, run_probes
from agent.perception.stream import split_chunks
from agent.perception.supervised import train_supervised
from agent.seeds import ENCODER_EVAL_TORCH_SEED_OFFSET
from agent.runs import RunLayout

log = logging.getLogger(__name__)

GOAL_VS_SUPERVISED = 5.0  # points: contrastive at most this far below supervised
GOAL_VS_RANDOM = 20.0  # points: contrastive at least this far above random weights
ENCODERS = ("contrastive", "random", "supervised", "contrastive_no_colour", "contrastive_simclr_colour")
# The ablations: encoder settings that differ from the run's own encoder.
ABLATIONS = {"contrastive_no_colour": {"colour_distortion": False},
             "contrastive_simclr_colour": {"colour_distortion": True, "hue_jitter": 0.2, "grayscale_p": 0.2}}


def _ablation_encoder(config: RunConfig, run_dir: Path, name: str, progress: bool) -> GlimpseEncoder:
    """Train (once; reused afterwards) an ablation: the run's encoder settings changed by ABLATIONS[name]."""
    folder = run_dir / name.replace("contrastive_", "encoder_")
    try:
        return load_encoder(folder)
    except WeightsError:
        pass
    steps = config.probes.ablation_steps or config.encoder.steps
    ablation = replace(config, encoder=replace(config.encoder, steps=steps, **ABLATIONS[name]))
    resume = (folder / "checkpoints" / "latest").exists()
    train_contrastive(ablation, RunLayout(run_dir).collect, folder, resume=resume, progress=progress)
    return load_encoder(folder)


def evaluate_encoder(config: RunConfig, run_dir: str | Path, *, progress: bool = False) -> dict:
    run_dir = Path(run_dir)
    start = time.perf_counter()
    contrastive = load_encoder(RunLayout(run_dir).encoder)
    spec = contrastive.spec
    data = PlayData(RunLayout(run_dir).collect)
    pc = config.probes
    train_ids, test_ids = split_chunks(len(data), config.split.test_fraction)
    train = load_split(data, train_ids, pc.max_train_samples, config.seed)
    test = load_split(data, test_ids, pc.max_test_samples, config.seed + 1)
    torch.manual_seed(config.seed + ENCODER_EVAL_TORCH_SEED_OFFSET)
    encoders = {
        "contrastive": contrastive,
        "random": GlimpseEncoder(EncoderSpec(list(spec.channels), spec.feature_dim)).eval(),
        "supervised": train_supervised(train, spec, steps=pc.supervised_steps, seed=config.seed),
        **{name: _ablation_encoder(config, run_dir, name, progress) for name in ABLATIONS},
    }
    scores, feats_test_contrastive = {}, None
    for name, encoder in encoders.items():
        f_train, f_test = probe_features(encoder, train), probe_features(encoder, test)
        if name == "contrastive":
            feats_test_contrastive = f_test["static"]
        scores[name] = run_probes(f_train, f_test, train, test)
        log.info("%s: %s", name, scores[name])
    scores["majority"] = majority_scores(train, test)
    table = {p: {name: round(scores[name][p], 1) for name in (*ENCODERS, "majority")} for p in PROBES}
    goals = {
        p: {
            "within_5_of_supervised": scores["contrastive"][p] >= scores["supervised"][p] - GOAL_VS_SUPERVISED,
            "20_above_random": scores["contrastive"][p] >= scores["random"][p] + GOAL_VS_RANDOM,
        }
        for p in PROBES
    }
    colour_gain = {p: round(scores["contrastive"][p] - scores["contrastive_no_colour"][p], 1) for p in PROBES}
    hue_grey_gain = {p: round(scores["contrastive_simclr_colour"][p] - scores["contrastive"][p], 1) for p in PROBES}
    out_dir = RunLayout(run_dir).eval("encoder")
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = plot_features(feats_test_contrastive, test, out_dir / "encoder_pca.png")
    metrics = {
        "probes": table,
        "units": "accuracy in % for classification probes; R^2 x 100 for drawer_opening",
        "goals": goals,
        "all_goals_met": all(all(g.values()) for g in goals.values()),
        "colour_distortion_gain": colour_gain,
        "colour_distortion_helps_on_average": float(np.mean(list(colour_gain.values()))) > 0,
        "hue_and_grayscale_gain": hue_grey_gain,
        "train_samples": int(len(train["episode"])),
        "test_samples": int(len(test["episode"])),
        "train_episodes": int(len(np.unique(train["episode"]))),
        "test_episodes": int(len(np.unique(test["episode"]))),
        "plot": str(plot),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out_dir / "probes.md").write_text(format_probe_table(metrics))
    save_config(config, out_dir / "config.yaml")
    return metrics


def plot_features(feats: np.ndarray, split: dict, path: Path) -> Path:
    """PCA of the contrastive features of held-out glimpses, coloured by three labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = feats - feats.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T
    panels = [("nearest_block_to_gaze", ["red", "green", "blue"], ["red", "green", "blue"]),
              ("lamp_on", ["off", "on"], ["#555555", "#f0c020"]),
              ("drawer_open", ["closed", "open"], ["#8c5a3c", "#3c8c7a"])]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, (label, names, colours) in zip(axes, panels):
        y = split[label]
        for k, (name, colour) in enumerate(zip(names, colours)):
            sel = y == k
            ax.scatter(xy[sel, 0], xy[sel, 1], s=3, c=colour, alpha=0.5, label=name)
        ax.set_title(label.replace("_", " "))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(markerscale=4, fontsize=8, loc="best")
    fig.suptitle("Contrastive features of held-out glimpses (fovea + periphery), first two principal components")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_probe_table(metrics: dict) -> str:
    lines = ["| probe | contrastive | random weights | supervised | contrastive, no colour distortion | "
             "contrastive, SimCLR colour (hue, grayscale) | majority |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for probe, row in metrics["probes"].items():
        lines.append(f"| {probe} | {row['contrastive']} | {row['random']} | {row['supervised']} | "
                     f"{row['contrastive_no_colour']} | {row['contrastive_simclr_colour']} | {row['majority']} |")
    return "\n".join(lines) + "\n"
