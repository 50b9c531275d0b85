"""Pictures of `saccade eval attention`: scene accuracy against glimpses and pixels, and gaze paths."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from agent.config import RunConfig
from agent.runs import RunLayout
from agent.seeds import GAZE_PATHS_SEED_BASE

PATH_TASKS = ("open_drawer", "press_button", "push_block_left:red", "put_block_in_drawer:blue")
PATH_STEPS = 40
PANEL = (400, 300)


def plot_accuracy(metrics: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = metrics["scene_accuracy"]
    per_glimpse = metrics["pixels_per_decision"]["glimpse"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, table in acc.items():
        ks = [int(k) for k in table]
        values = list(table.values())
        style = "--" if name == "full_frame_same_pixels" else "-"
        axes[0].plot(ks, values, style, marker="o", label=name)
        axes[1].plot([k * per_glimpse for k in ks], values, style, marker="o", label=name)
    chance = metrics["scene_detail"]["nothing_seen"]["scene_accuracy"]
    for ax in axes:
        ax.axhline(chance, color="grey", lw=0.8, ls=":", label="nothing seen (probe bias)")
        ax.set_ylabel("scene accuracy (test scenes)")
        ax.grid(alpha=0.3)
    axes[0].set_xlabel("glimpses K")
    axes[0].set_xscale("log", base=2)
    axes[1].set_xlabel("pixels seen (K x fovea + periphery; a frame of the same size)")
    axes[1].set_xscale("log", base=2)
    axes[0].legend(fontsize=7)
    fig.suptitle("Scene estimate from the glimpse memory: 3 block positions within 3 cm, drawer, lamp")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_gaze_paths(config: RunConfig, run: RunLayout, attention, path: Path, *,
                    seed: int = GAZE_PATHS_SEED_BASE) -> Path:
    """The gaze's path over the first PATH_STEPS steps of the agent carrying out a few tasks (points
    in time from blue to yellow; small circles zoomed in), drawn on the frame at the last step. Top
    row: the learned gaze policy; bottom row: the gaze head the arm's policy learned by imitation."""
    from PIL import Image, ImageDraw

    from agent.perception.encoder import load_encoder
    from agent.perception.features import PerceptionFeatures
    from agent.rl.actor import AgentActor
    from agent.rl.policy import load_policy
    from agent.video import _font
    from envs.desk_env import DeskEnv
    from envs.eye import Gaze
    from envs.instructions import phrasings
    from envs.tasks import Task

    encoder = load_encoder(run.encoder)
    perception = PerceptionFeatures(encoder)
    arm = load_policy(run.rl)
    from agent.rl.capsule_inputs import refuse_capsule_memory

    refuse_capsule_memory(arm, run.rl, "the gaze pictures")
    sources = {"learned gaze": AgentActor(arm, gaze="attention", attention=attention, encoder_dim=encoder.spec.feature_dim),
               "imitation gaze head": AgentActor(arm, encoder_dim=encoder.spec.feature_dim)}
    env = DeskEnv(replace(config.env, task=None, obs_mode="glimpse", active_gaze=True, terminate_on_success=False))
    rows = []
    try:
        for label, actor in sources.items():
            panels = []
            for i, name in enumerate(PATH_TASKS):
                task = Task.parse(name)
                command = phrasings(task, "validation")[0]
                obs, _ = env.reset(seed=seed + i, options={"task": task})
                actor.start(env, task, command)
                gazes = [obs["gaze"].copy()]
                for _ in range(PATH_STEPS):
                    obs, *_ = env.step(actor.act(obs, perception(obs), env))
                    gazes.append(obs["gaze"].copy())
                camera = env.eye.frame_camera(PANEL[0], PANEL[1])
                image = Image.fromarray(env.eye.render(camera))
                draw = ImageDraw.Draw(image)
                points = [camera.project(Gaze.from_array(g).point()) for g in gazes]
                for j in range(1, len(points)):
                    draw.line([points[j - 1], points[j]], fill=(255, 255, 255), width=1)
                for j, (x, y) in enumerate(points):
                    u = j / max(1, len(points) - 1)
                    colour = (int(40 + 215 * u), int(80 + 140 * u), int(255 * (1 - u)))
                    r = 2 + 3 * (Gaze.from_array(gazes[j]).zoom_factor() < 1.5)
                    draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=2)
                draw.text((6, 4), f'{label}: "{command}"', fill=(255, 255, 255), font=_font(13), stroke_width=1,
                          stroke_fill=(0, 0, 0))
                panels.append(np.asarray(image))
            rows.append(np.concatenate(panels, 1))
    finally:
        env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, 0)).save(path)
    return path
