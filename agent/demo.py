"""Demos: the scripted expert doing a task, filmed with the gaze and the narration."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from agent.config import RunConfig, save_config
from agent.video import annotate, write_video
from envs.desk_env import DeskEnv
from envs.expert import ScriptedExpert
from envs.eye import Gaze
from envs.instructions import phrasings
from envs.narration import NarrationLabeller
from envs.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class NarrationLine:
    step: int
    time_s: float
    text: str


@dataclass
class DemoResult:
    video: Path
    success: bool
    steps: int  # control steps filmed (success_step plus the tail)
    success_step: int | None
    narration: list[NarrationLine]


def run_expert_demo(
    config: RunConfig,
    task: Task,
    out: str | Path,
    *,
    seed: int | None = None,
    gui: bool = False,
    on_narration: Callable[[NarrationLine], None] | None = None,
    learned_narrator: bool = False,
) -> DemoResult:
    """Run the scripted expert on one task headless, film it and narrate it.

    The eye follows what the expert works on (an active-gaze env), the narration becomes
    subtitles, and `on_narration` hears each line when its event starts. The narration is
    the labeller's (the ground truth), or with `learned_narrator` the run's trained
    narrator speaking from what the eye sees (the labeller's lines still go to events.json).
    """
    out = Path(out)
    seed = config.seed if seed is None else seed
    # The film goes on a moment after success, so the env must not end the episode there.
    env_config = replace(config.env, task=task.name, active_gaze=True, obs_mode="glimpse", terminate_on_success=False)
    env = DeskEnv(env_config, render_mode="human" if gui else None)
    try:
        obs, info = env.reset(seed=seed)
        expert = ScriptedExpert(task, max_step=env_config.max_step)
        labeller = NarrationLabeller()
        labeller.reset(env.state())
        stream = _learned_narration(config) if learned_narrator else None
        truth: list[NarrationLine] = []
        truth_current = None
        command = phrasings(task)[0]
        frames, lines = [], []
        current, success, tail, success_step = None, False, 0, None
        steps = 0
        for steps in range(1, config.demo.max_steps + 1):
            state = env.privileged()
            gaze = Gaze.looking_at(expert.look_at(state), zoom=2.0)
            action = np.concatenate([expert.act(state), gaze.as_array()]).astype(np.float32)
            obs, _, terminated, truncated, info = env.step(np.clip(action, -1, 1))
            event = labeller.update(env.state())
            if event is not None and event != truth_current:
                truth.append(NarrationLine(steps, steps * env.sim.control_dt, event))
            truth_current = event
            if stream is not None:
                said = stream.step(obs["fovea"], obs["periphery"], obs["proprio"], obs["gaze"])
                event = stream.current or None
                new = said
            else:
                new = event if event is not None and event != current else None
            if new is not None:
                line = NarrationLine(steps, steps * env.sim.control_dt, new)
                lines.append(line)
                if on_narration:
                    on_narration(line)
            current = event
            frames.append(_frame(env, config, obs, f'"{command}"  step {steps}', event))
            if info["is_success"] and success_step is None:
                success_step = steps
            success = success or bool(info["is_success"])
            if "error" in info:
                log.warning("episode stopped: %s", info["error"])
                break
            if success:
                tail += 1
                if tail > config.demo.tail_steps:
                    break
            elif terminated or truncated:
                break
        video = write_video(frames, out, config.demo.fps)
    finally:
        env.close()
    save_config(config, out.with_suffix(".config.yaml"))
    events = {"task": task.name, "seed": seed, "success": success, "success_step": success_step, "steps": steps,
              "narrator": "learned" if learned_narrator else "labeller",
              "narration": [line.__dict__ for line in lines], "labeller": [line.__dict__ for line in truth]}
    out.with_suffix(".events.json").write_text(json.dumps(events, indent=2))
    return DemoResult(video, success, steps, success_step, lines)


def _learned_narration(config: RunConfig):
    from agent.language.narrator import NarrationStream, load_narrator
    from agent.perception.encoder import load_encoder

    run = Path(config.run_dir)
    return NarrationStream(load_narrator(run / "language" / "narrator"), load_encoder(run / "encoder"))


def _frame(env: DeskEnv, config: RunConfig, obs: dict, title: str, subtitle: str | None) -> np.ndarray:
    camera = env.eye.frame_camera(config.demo.width, config.demo.height)
    frame = env.eye.render(camera)
    return annotate(
        frame,
        gaze_px=camera.project(env.gaze.point()),
        gaze_radius_px=env.eye.fovea_radius_px(env.gaze, camera),
        fovea=obs.get("fovea"),
        periphery=obs.get("periphery"),
        title=title,
        subtitle=subtitle,
    )
