"""The episode runner: any actor in the desk, with the gaze drawn, narration and a video.

An actor is anything that turns an observation into an action of the active desk (arm
motion, gripper, gaze): the scripted expert (`ExpertActor`), the learned agent
(agent.rl.actor.AgentActor), and through `saccade command` a person typing commands.
`run_command` runs one command until the task's predicate holds (plus a short tail for
the film) or a time limit; several calls on one env carry the scene over, as in a CALVIN
chain. `saccade demo` and `saccade command` both run through here.

Narration comes from the labeller (the ground truth, from state changes) or from the
trained narrator (from what the eye saw); either calls `on_narration` when an event starts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from agent.video import annotate, write_video
from envs.eye import Gaze
from envs.narration import NarrationLabeller
from envs.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class NarrationLine:
    step: int
    time_s: float  # simulated time since the command began
    text: str


@dataclass
class Episode:
    command: str
    task: str
    success: bool
    steps: int  # control steps run (the success step plus the tail)
    success_step: int | None
    wall_s: float
    narration: list[NarrationLine] = field(default_factory=list)
    error: str | None = None  # the physics blew up


class Actor(Protocol):
    needs_features: bool  # whether act() reads the perception features

    def start(self, env, task: Task, command: str) -> None:
        """A new command begins in the scene as it is now."""

    def act(self, obs: dict, features: np.ndarray | None, env) -> np.ndarray:
        """The action of the active desk: dx, dy, dz, gripper, gaze x, gaze y, zoom (all in [-1, 1])."""


class ExpertActor:
    """The scripted expert from the privileged state; the eye looks at what the task is about."""

    needs_features = False

    def __init__(self, zoom: float = 2.0):
        self.zoom = zoom
        self.expert = None

    def start(self, env, task: Task, command: str) -> None:
        from envs.expert import ScriptedExpert

        self.expert = ScriptedExpert(task, max_step=env.config.max_step)

    def act(self, obs: dict, features: np.ndarray | None, env) -> np.ndarray:
        state = env.privileged()
        gaze = Gaze.looking_at(self.expert.look_at(state), zoom=self.zoom)
        return np.clip(np.concatenate([self.expert.act(state), gaze.as_array()]), -1, 1).astype(np.float32)


class RandomActor:
    """Uniformly random actions, arm and gaze: the floor every learned policy must clear."""

    needs_features = False

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def start(self, env, task: Task, command: str) -> None:
        pass

    def act(self, obs: dict, features: np.ndarray | None, env) -> np.ndarray:
        return self.rng.uniform(-1, 1, 7).astype(np.float32)


class LabellerNarration:
    """The ground-truth narration, derived from state changes."""

    def start(self, env) -> None:
        self.labeller = NarrationLabeller()
        self.labeller.reset(env.state())
        self.current: str | None = None

    def hear(self, env, features: np.ndarray | None) -> str | None:
        event = self.labeller.update(env.state())
        new = event if event is not None and event != self.current else None
        self.current = event
        return new


class LearnedNarration:
    """The trained narrator, speaking from the perception features of what the eye saw."""

    needs_features = True

    def __init__(self, narrator):
        from agent.language.narrator import NarrationStream

        self.stream = NarrationStream(narrator)

    def start(self, env) -> None:
        self.stream.reset()

    @property
    def current(self) -> str | None:
        return self.stream.current or None

    def hear(self, env, features: np.ndarray | None) -> str | None:
        return self.stream.step(features)


class Film:
    """Frames of the desk from the head camera with the gaze circle, the retina insets, the command
    and the narration as subtitles."""

    TRAIL = 24  # gazes drawn as a path behind the current one: one second at 24 Hz

    def __init__(self, width: int, height: int, fps: int):
        self.width, self.height, self.fps = width, height, fps
        self.frames: list[np.ndarray] = []
        self.trail: list[tuple[float, float]] = []

    def add(self, env, obs: dict, title: str, subtitle: str | None) -> None:
        camera = env.eye.frame_camera(self.width, self.height)
        here = camera.project(env.gaze.point())
        self.trail = [*self.trail[-(self.TRAIL - 1):], here]
        self.frames.append(annotate(env.eye.render(camera), gaze_px=here,
                                    gaze_radius_px=env.eye.fovea_radius_px(env.gaze, camera),
                                    fovea=obs.get("fovea"), periphery=obs.get("periphery"),
                                    title=title, subtitle=subtitle, trail_px=self.trail))

    def write(self, path: str | Path) -> Path:
        return write_video(self.frames, path, self.fps)


def run_command(env, actor: Actor, task: Task, command: str, *, obs: dict, narration=None, perception=None,
                film: Film | None = None, max_steps: int = 150, tail_steps: int = 0,
                on_narration: Callable[[NarrationLine], None] | None = None) -> tuple[Episode, dict]:
    """Run the actor on one command from the observation `obs` of the scene as it is now.

    env: a DeskEnv with the active gaze whose task is `task` (reset, or begin_task for a chain);
    perception: agent.perception.features.PerceptionFeatures, needed by a learned actor or narrator
    (computed once per step for both). Returns the episode and the last observation.
    """
    start = time.perf_counter()
    actor.start(env, task, command)
    if narration is not None:
        narration.start(env)
    needs = actor.needs_features or getattr(narration, "needs_features", False)
    if needs and perception is None:
        raise ValueError("a learned actor or narrator needs the perception features: pass perception=")
    if hasattr(perception, "reset"):  # a capsule memory starts empty with each command, as in training
        perception.reset()
    features = perception(obs) if needs else None
    lines: list[NarrationLine] = []
    success_step, error, tail, steps = None, None, 0, 0
    for steps in range(1, max_steps + 1):
        obs, _, _, _, info = env.step(actor.act(obs, features, env))
        features = perception(obs) if needs else None
        if narration is not None:
            # the narrator reads the encoder's features, not a capsule memory appended to them
            said = narration.hear(env, perception.encoder_part(features) if hasattr(perception, "encoder_part")
                                  and features is not None else features)
            if said is not None:
                line = NarrationLine(steps, round(steps * env.sim.control_dt, 2), said)
                lines.append(line)
                if on_narration:
                    on_narration(line)
        if film is not None:
            film.add(env, obs, f'"{command}"  step {steps}', narration.current if narration is not None else None)
        if info["is_success"] and success_step is None:
            success_step = steps
        if "error" in info:
            error = info["error"]
            log.warning("episode stopped: %s", error)
            break
        if success_step is not None:
            tail += 1
            if tail > tail_steps:
                break
    episode = Episode(command, task.name, success_step is not None, steps, success_step,
                      round(time.perf_counter() - start, 2), lines, error)
    return episode, obs
