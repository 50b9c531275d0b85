"""Demos: an actor (the scripted expert or the learned agent) carrying out commands in one scene,
filmed with the gaze, the command and the narration."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from agent.config import RunConfig, save_config
from agent.runner import Actor, Episode, Film, LabellerNarration, LearnedNarration, NarrationLine, run_command
from envs.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    video: Path
    episodes: list[Episode]

    @property
    def success(self) -> bool:
        return all(e.success for e in self.episodes)


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


def run_demo(config: RunConfig, actor: Actor, commands: list[tuple[Task, str]], out: str | Path, *,
             seed: int | None = None, gui: bool = False, narrator=None, perception=None,
             on_command: Callable[[int, Task, str], None] | None = None,
             on_narration: Callable[[NarrationLine], None] | None = None,
             on_done: Callable[[Episode], None] | None = None) -> DemoResult:
    """Carry out the commands one after another in one scene (seeded so that the first is offered),
    film it and narrate it. narrator: a trained Narrator (subtitles from what the eye saw), or None
    for the labeller's ground truth; perception: PerceptionFeatures, when the actor or narrator
    needs it. A command the scene cannot carry out when its turn comes is skipped with a warning."""
    out = Path(out)
    seed = config.seed if seed is None else seed
    env = open_desk(config, gui=gui)
    film = Film(config.demo.width, config.demo.height, config.demo.fps)
    narration = LearnedNarration(narrator) if narrator is not None else LabellerNarration()
    episodes: list[Episode] = []
    try:
        obs, _ = env.reset(seed=seed, options={"task": commands[0][0]})
        for i, (task, text) in enumerate(commands):
            if i > 0:
                try:
                    obs, _ = env.begin_task(task)
                except ValueError as e:
                    log.warning("skipping %r: %s", text, e)
                    continue
            if on_command:
                on_command(i, task, text)
            episode, obs = run_command(env, actor, task, text, obs=obs, narration=narration, perception=perception,
                                       film=film, max_steps=config.demo.max_steps, tail_steps=config.demo.tail_steps,
                                       on_narration=on_narration)
            episodes.append(episode)
            if on_done:
                on_done(episode)
        video = film.write(out)
    finally:
        env.close()
    save_config(config, out.with_suffix(".config.yaml"))
    events = {"seed": seed, "narrator": "learned" if narrator is not None else "labeller",
              "commands": [{"command": e.command, "task": e.task, "success": e.success, "success_step": e.success_step,
                            "steps": e.steps, "narration": [line.__dict__ for line in e.narration]} for e in episodes]}
    out.with_suffix(".events.json").write_text(json.dumps(events, indent=2))
    return DemoResult(video, episodes)
