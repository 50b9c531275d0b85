"""The scripted expert's demo: one task, filmed with the gaze and narrated.

(The learned agent's demo goes through agent.command.CommandSession, which adds the command
parser and carries the scene over from one command to the next.)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from agent.config import RunConfig, save_config
from agent.runner import Actor, Episode, Film, LabellerNarration, LearnedNarration, NarrationLine, run_command
from envs.tasks import Task


def open_desk(config: RunConfig, *, gui: bool = False):
    """The active desk as demos and commands use it: the actor points the eye, and the episode does
    not end at success (the film goes on a moment; the next command continues the scene)."""
    from envs.desk_env import DeskEnv
    from envs.display import check_display

    if gui:
        check_display()
    env_config = replace(config.env, task=None, active_gaze=True, obs_mode="glimpse", terminate_on_success=False,
                         max_episode_steps=10 ** 9)  # the runner's time limit stops a command, not the env
    return DeskEnv(env_config, render_mode="human" if gui else None)


def run_demo(config: RunConfig, actor: Actor, task: Task, command: str, out: str | Path, *,
             seed: int | None = None, gui: bool = False, narrator=None, perception=None,
             on_narration: Callable[[NarrationLine], None] | None = None) -> tuple[Episode, Path]:
    """Film the actor carrying out one task in a layout (from the seed) that offers it.
    narrator: a trained Narrator (subtitles from what the eye saw), or None for the labeller's
    ground truth; perception: PerceptionFeatures, when the actor or narrator needs it."""
    out = Path(out)
    seed = config.seed if seed is None else seed
    env = open_desk(config, gui=gui)
    film = Film(config.demo.width, config.demo.height, config.demo.fps)
    narration = LearnedNarration(narrator) if narrator is not None else LabellerNarration()
    try:
        obs, _ = env.reset(seed=seed, options={"task": task})
        episode, _ = run_command(env, actor, task, command, obs=obs, narration=narration, perception=perception,
                                 film=film, max_steps=config.demo.max_steps, tail_steps=config.demo.tail_steps,
                                 on_narration=on_narration)
        video = film.write(out)
    finally:
        env.close()
    save_config(config, out.with_suffix(".config.yaml"))
    events = {"seed": seed, "narrator": "learned" if narrator is not None else "labeller",
              "commands": [{"command": command, "task": task.name, "success": episode.success,
                            "success_step": episode.success_step, "steps": episode.steps,
                            "narration": [line.__dict__ for line in episode.narration]}]}
    out.with_suffix(".events.json").write_text(json.dumps(events, indent=2))
    return episode, video
