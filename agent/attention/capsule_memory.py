"""The capsule scene memory read by the scene estimate: what the capsules add to the attention
policy's memory of encoder features (issue 14's in-agent measure).

The glimpse banks (agent.attention.bank) keep encoder features, and the capsule parser reads
pixels, so the parser's object capsules of the same candidate glimpses are recorded by walking
the bank's scenes again (`bank_scenes`: the same seeds give the same scenes; the privileged
state is compared with the bank's before anything is scored). Each capsule's place is carried
into the world frame through the known gaze when recorded. For a gaze policy's glimpses of a
scene, those capsules go into the scene memory (agent.perception.memory) in order, and the
memory is laid on a grid over the desk (agent.perception.memory.desk_grid), which a linear
probe can read a place from finer than a cell, and which object is where through the features.

The parses depend on the parser, so they are kept per parser file (its sha256) under
eval_capsules/capsule_bank/, beside recorded_with.json (the candidate gazes and views they
were recorded at).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.attention.bank import bank_env, bank_scenes, load_bank, record_bank, save_part
from agent.attention.candidates import GazeCandidates
from agent.config import RunConfig
from agent.perception.capsules import parser_digest
from agent.perception.memory import GRID_X, GRID_Y, SceneMemory, desk_grid, grid_nodes, on_desk

STREAMS = ("fovea", "periphery")
CAPSULE_KEYS = tuple(f"{s}_{w}" for s in STREAMS for w in ("world", "present", "features")) + ("state",)
CELL = 0.04  # metres between the desk grid's nodes
PICTURE_X, PICTURE_Y = (0.15, 0.75), (0.42, -0.42)  # the desk from above, the cabinet, button and lamp included


class CapsuleRecorder:
    """The object capsules of every candidate glimpse of a scene, their places on the desk."""

    def __init__(self, config: RunConfig, parser):
        self.config, self.parser = config, parser
        # capsule_bank puts the gaze policy's own grid and zooms into config.attention
        self.candidates = GazeCandidates(config.attention.grid, config.attention.zooms)

    def record(self, env) -> dict[str, np.ndarray]:
        from agent.perception.capsule_eval import parse_all

        gazes = [self.candidates.gaze(c) for c in range(len(self.candidates))]
        views = dict(zip(STREAMS, (np.stack(v) for v in zip(*(env.eye.glimpse(g) for g in gazes)))))
        out = {"state": np.concatenate([env.scene.state_vector(), env.robot.proprioception()]).astype(np.float32)}
        for stream, images in views.items():
            parsed = parse_all(self.parser, images)
            size = images.shape[1]
            world = np.stack([on_desk(parsed["position"][c], g, size, stream) for c, g in enumerate(gazes)])
            out[f"{stream}_world"] = world.astype(np.float32)  # (C, M, 3)
            out[f"{stream}_present"] = parsed["present"].astype(np.float16)  # (C, M)
            out[f"{stream}_features"] = parsed["features"].astype(np.float16)  # (C, M, F)
        return out


def _record_capsule_part(args) -> tuple[str, int]:
    config, split, part_path, episodes = args
    import torch

    from agent.perception.capsules import load_parser

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one process per core
    recorder = CapsuleRecorder(config, load_parser(part_path.parents[2] / "parser"))
    env = bank_env(config)
    rows = []
    try:
        for _ in bank_scenes(config, split, episodes, env):
            rows.append(recorder.record(env))
    finally:
        env.close()
        torch.set_num_threads(threads)
    save_part(part_path, {k: np.stack([r[k] for r in rows]) for k in CAPSULE_KEYS})
    return str(part_path), len(rows)


def capsule_bank(config: RunConfig, parser_folder: Path, out: Path, split: str, bank_state: np.ndarray,
                 candidates: GazeCandidates, *, progress: bool = False) -> dict[str, np.ndarray]:
    """The parser's capsules of one split's bank scenes at the gaze policy's candidates, recorded once
    per parser under `out` (refused if recorded for other candidates or views)."""
    import json
    import os
    import shutil
    from dataclasses import replace

    from agent.weights import WeightsError

    folder = out / parser_digest(parser_folder)
    names = ("capsules.safetensors", "capsules.json")
    if not all((folder / "parser" / n).exists() for n in names):  # copied whole or not at all
        tmp = folder / "parser.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in names:
            shutil.copy2(parser_folder / name, tmp / name)
        shutil.rmtree(folder / "parser", ignore_errors=True)
        os.replace(tmp, folder / "parser")
    recorded_with = {"seed": config.seed, "grid": candidates.grid, "zooms": list(candidates.zooms),
                     "fovea_size": config.env.fovea_size, "periphery_size": config.env.periphery_size}
    manifest = folder / "recorded_with.json"
    if manifest.exists():
        try:
            saved = json.loads(manifest.read_text())
        except (OSError, ValueError):
            saved = None
        if saved != recorded_with:
            raise WeightsError(f"{folder}: recorded for other candidate gazes or views, or its recorded_with.json "
                               "is damaged; delete the folder to record them again")
    else:
        tmp = manifest.with_name(manifest.name + ".tmp")
        tmp.write_text(json.dumps(recorded_with))
        os.replace(tmp, manifest)
    config = replace(config, attention=replace(config.attention, grid=candidates.grid, zooms=list(candidates.zooms)))
    record_bank(config, folder / "banks", split, progress=progress, worker=_record_capsule_part, keys=CAPSULE_KEYS)
    bank = load_bank(folder / "banks", split, CAPSULE_KEYS)
    if bank["state"].shape != bank_state.shape or not np.allclose(bank["state"], bank_state, atol=1e-4) \
            or bank["fovea_world"].shape[1] != len(candidates):
        raise WeightsError(f"{folder / 'banks' / split}: these scenes are not the glimpse bank's (was the bank "
                           "recorded with another config?); delete the folder to record them again")
    return bank


def add_glimpse(memory: SceneMemory, bank: dict[str, np.ndarray], scene: int, candidate: int,
                streams: tuple[str, ...]) -> None:
    """One recorded glimpse's object capsules (each stream's) into a scene's memory."""
    for stream in streams:
        memory.add(bank[f"{stream}_world"][scene, candidate], bank[f"{stream}_present"][scene, candidate],
                   bank[f"{stream}_features"][scene, candidate])


def memory_grids(bank: dict[str, np.ndarray], chosen: np.ndarray, streams: tuple[str, ...],
                 ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    """{K: (S, D)} the desk grid of each scene's memory after its first K chosen glimpses (S, >= max K)."""
    feature_dim = bank[f"{streams[0]}_features"].shape[-1]
    xs, ys = grid_nodes(CELL)
    out = {k: np.zeros((len(chosen), len(xs) * len(ys) * (1 + feature_dim)), np.float32) for k in ks}
    for s, row in enumerate(chosen):
        memory = SceneMemory()
        for j in range(max(ks)):
            c = row[j]
            if c >= 0:
                add_glimpse(memory, bank, s, c, streams)
            if j + 1 in ks:
                out[j + 1][s] = desk_grid(memory, feature_dim, CELL)
    return out


def nearest_places(bank: dict[str, np.ndarray], chosen: np.ndarray, streams: tuple[str, ...],
                   state: np.ndarray) -> dict:
    """How far each block is from the nearest place the memory holds after the chosen glimpses: a
    bound on what any read-out of the memory's places could do (it is told which place to read)."""
    from agent.attention.scene_probe import POSITION_TOLERANCE, scene_targets

    blocks = scene_targets(state)["blocks"]  # (S, 3, 2)
    distances = []
    for s, row in enumerate(chosen):
        memory = SceneMemory()
        for c in row[row >= 0]:
            add_glimpse(memory, bank, s, c, streams)
        places = memory.positions()[:, :2]
        distances += list(np.linalg.norm(places[:, None] - blocks[s][None], axis=-1).min(0)) if len(places) \
            else [np.inf] * blocks.shape[1]
    d = np.array(distances)
    return {"blocks_with_a_place_within_3cm": round(float((d < POSITION_TOLERANCE).mean()), 4),
            "median_distance_m": round(float(np.median(d)), 4)}


def plot_memory_places(bank: dict[str, np.ndarray], chosen: np.ndarray, streams: tuple[str, ...], state: np.ndarray,
                       path: Path, title: str, scenes: int = 6) -> Path:
    """The desk from above for a few scenes: where the blocks are (squares in their colours, with 3 cm
    circles), where the other objects are (grey letters: drawer, handle, button, lamp, gripper), and
    the places the capsule memory holds after the chosen glimpses (crosses, darker when more confident)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agent.attention.scene_probe import scene_targets
    from agent.perception.capsule_eval import OBJECTS, object_positions
    from envs.scene import COLOURS

    blocks = scene_targets(state)["blocks"]
    others = [(name[0].upper(), i) for i, name in enumerate(OBJECTS) if name not in COLOURS]
    world = object_positions(state)
    picked = np.linspace(0, len(chosen) - 1, scenes).round().astype(int)
    fig, axes = plt.subplots(1, scenes, figsize=(2.6 * scenes, 3.2), sharex=True, sharey=True)
    for ax, s in zip(np.atleast_1d(axes), picked):
        memory = SceneMemory()
        for c in chosen[s][chosen[s] >= 0]:
            add_glimpse(memory, bank, s, c, streams)
        for e in memory.entries:
            ax.plot(e.position[1], e.position[0], "x", color="black", alpha=min(1.0, 0.3 + 0.7 * e.confidence))
        for letter, i in others:
            ax.text(world[s, i, 1], world[s, i, 0], letter, color="grey", ha="center", va="center", fontsize=9,
                    clip_on=True)
        for (x, y), colour in zip(blocks[s], COLOURS):
            ax.plot(y, x, "s", color=colour, markersize=9, markeredgecolor="black")
            ax.add_patch(plt.Circle((y, x), 0.03, fill=False, color=colour, linestyle=":"))
        ax.set_title(f"test scene {s}", fontsize=9)
        ax.set_xlim(*PICTURE_Y)  # as the head camera sees the desk: y grows to the left
        ax.set_ylim(*PICTURE_X)
        ax.set_aspect("equal")
        ax.set_xlabel("y (m)", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("x (m)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scores(s: dict) -> dict:
    return {k: round(float(s[k]), 4) for k in ("scene_accuracy", "blocks_within_3cm", "block_error_m", "drawer_open",
                                               "lamp_on")}


def scene_with_capsules(config: RunConfig, run, parsers: dict[int, Path], out: Path, *, ks=(1, 2, 4, 8),
                        progress: bool = False) -> dict:
    """The attention stage's scene estimate (agent.attention.scene_probe) from the memory of encoder
    features alone, from the capsule scene memory alone, and from both, for the shipped gaze
    policy, random gaze and the fixed scan, after K glimpses; for each capsule parser (seed).

    Which streams' capsules enter the memory (fovea, periphery or both) is chosen on the validation
    bank (the first parser, the learned gaze, K = 4 or fewer); the test bank is scored once.
    """
    from agent.attention.evaluate import _chosen
    from agent.attention.memory import memory_slots
    from agent.attention.policy import load_attention
    from agent.attention.scene_probe import probe_scene
    from agent.attention.train import make_view

    banks = {split: load_bank(run.attention / "bank", split) for split in ("train", "validation", "test")}
    shipped = load_attention(run.attention)
    learned = {"learned": shipped}
    seeds = {"train": config.seed, "validation": config.seed + 2, "test": config.seed + 1}
    policies = ("learned", "random", "fixed_scan")
    chosen = {}
    for split, bank in banks.items():
        view = make_view(shipped, bank, split)
        here = ("learned",) if split == "validation" else policies  # validation only chooses the streams
        chosen[split] = {p: _chosen(p, bank, {"learned": view, "random": view}, shipped.candidates, learned,
                                    max(ks), seeds[split]) for p in here}
    first_seed = next(iter(parsers))
    cbanks = {seed: {split: capsule_bank(config, folder, out, split, banks[split]["state"], shipped.candidates,
                                         progress=progress)
                     for split in (banks if seed == first_seed else ("train", "test"))}  # validation: the first only
              for seed, folder in parsers.items()}
    encoder_memories: dict = {}

    def encoder_memory(split: str, policy: str, k: int) -> np.ndarray:
        if (split, policy, k) not in encoder_memories:  # read again for every parser seed
            encoder_memories[split, policy, k] = memory_slots(banks[split]["fovea"], banks[split]["periphery"],
                                                              chosen[split][policy][:, :k])
        return encoder_memories[split, policy, k]

    options = {"fovea": ("fovea",), "periphery": ("periphery",), "fovea+periphery": STREAMS}
    first = cbanks[first_seed]
    k_choice = min(4, max(ks))
    train_encoder = encoder_memory("train", "learned", k_choice)
    val_encoder = encoder_memory("validation", "learned", k_choice)
    validation = {}
    for name, streams in options.items():
        train_grid = memory_grids(first["train"], chosen["train"]["learned"], streams, (k_choice,))[k_choice]
        val_grid = memory_grids(first["validation"], chosen["validation"]["learned"], streams, (k_choice,))[k_choice]
        validation[name] = _scores(probe_scene((train_encoder, train_grid), banks["train"]["state"],
                                               (val_encoder, val_grid), banks["validation"]["state"]))
    streams_name = max(validation, key=lambda n: validation[n]["scene_accuracy"])
    streams = options[streams_name]

    result: dict = {"encoder_memory": {}, "capsule_memory": {}, "both": {}}
    for policy in policies:
        result["encoder_memory"][policy] = {
            str(k): _scores(probe_scene(encoder_memory("train", policy, k), banks["train"]["state"],
                                        encoder_memory("test", policy, k), banks["test"]["state"])) for k in ks}
    for seed, cb in cbanks.items():
        for key in ("capsule_memory", "both"):
            result[key][str(seed)] = {}
        for policy in policies:
            grids = {split: memory_grids(cb[split], chosen[split][policy], streams, ks) for split in ("train", "test")}
            caps, both = {}, {}
            for k in ks:
                caps[str(k)] = _scores(probe_scene(grids["train"][k], banks["train"]["state"], grids["test"][k],
                                                   banks["test"]["state"]))
                both[str(k)] = _scores(probe_scene((encoder_memory("train", policy, k), grids["train"][k]),
                                                   banks["train"]["state"],
                                                   (encoder_memory("test", policy, k), grids["test"][k]),
                                                   banks["test"]["state"]))
            result["capsule_memory"][str(seed)][policy], result["both"][str(seed)][policy] = caps, both
    result["nearest_places"] = {str(seed): {p: nearest_places(cb["test"], chosen["test"][p][:, :max(ks)], streams,
                                                             banks["test"]["state"]) for p in policies}
                                for seed, cb in cbanks.items()}
    picture = plot_memory_places(first["test"], chosen["test"]["learned"][:, :max(ks)], streams,
                                 banks["test"]["state"], out.parent / "memory_places.png",
                                 f"blocks (squares, 3 cm circles), other objects (letters) and the {streams_name} "
                                 f"capsule memory (crosses) after {max(ks)} glimpses of the learned gaze; "
                                 f"parser seed {first_seed}")
    summary = {}
    for policy in policies:
        summary[policy] = {}
        for k in map(str, ks):
            row = {}
            for measure in ("scene_accuracy", "blocks_within_3cm", "block_error_m"):
                without = result["encoder_memory"][policy][k][measure]
                with_ = [result["both"][s][policy][k][measure] for s in result["both"]]
                alone = [result["capsule_memory"][s][policy][k][measure] for s in result["capsule_memory"]]
                row[measure] = {"without_capsules": without, "with_capsules": with_,
                                "with_capsules_median": round(float(np.median(with_)), 4),
                                "with_capsules_spread": round(float(np.ptp(with_)), 4),
                                "gain_median": round(float(np.median(with_)) - without, 4),
                                "capsule_memory_alone_median": round(float(np.median(alone)), 4)}
            summary[policy][k] = row
    return {"sets": {"fit": f"train bank ({len(banks['train']['state'])} scenes)",
                     "choice": f"validation bank ({len(banks['validation']['state'])} scenes): which streams' "
                               "capsules enter the memory",
                     "scored": f"test bank ({len(banks['test']['state'])} scenes), read by nothing else here"},
            "parser_seeds": [int(s) for s in parsers], "memory_streams": streams_name, "picture": str(picture),
            "validation_choice": validation, "summary": summary, "detail": result,
            "grid": {"x": list(GRID_X), "y": list(GRID_Y), "cell_m": CELL}}
