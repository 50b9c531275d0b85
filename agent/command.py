"""Commands in words to the arm: parse, check the scene can do it, act, narrate.

    session = CommandSession.open(models, config, seed=0)
    outcome = session.run("open the drawer", on_narration=print)
    session.run("put the red block in the drawer")   # the scene carries over
    session.close()

`models` is a run folder laid out as agent.runs.RunLayout (the shipped agent in
agent/shipped, or a run trained with `saccade train all`). A command that the parser
cannot map, or that the scene cannot carry out now, is refused before anything moves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from agent.config import RunConfig
from agent.runner import Episode, Film, LearnedNarration, NarrationLine, run_command
from agent.runs import RunLayout
from agent.shipping import SHIPPED  # noqa: F401  (the trained default agent that ships with saccade)
from envs.tasks import Task

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    command: str
    task: Task | None = None
    episode: Episode | None = None
    refused: str | None = None  # why nothing moved (the parser's error, or what the scene lacks)
    suggestions: list[str] = field(default_factory=list)


class CommandSession:
    """One scene, one agent, commands one after another."""

    def __init__(self, config: RunConfig, parser, actor, perception, narrator, *, seed: int, gui: bool = False,
                 film: Film | None = None):
        from agent.demo import open_desk

        self.config, self.parser, self.actor, self.perception, self.narrator = config, parser, actor, perception, narrator
        self.seed, self.film = seed, film
        self.env = open_desk(config, gui=gui)
        self.obs = None
        self.last: Outcome | None = None  # the outcome of the latest command
        self.reset(seed)

    @classmethod
    def open(cls, models: str | Path, config: RunConfig, *, seed: int = 0, gui: bool = False,
             film: Film | None = None) -> CommandSession:
        from agent.language.commands import CommandParser
        from agent.language.narrator import load_narrator
        from agent.perception.encoder import load_encoder
        from agent.rl.actor import AgentActor
        from agent.rl.capsule_inputs import agent_perception
        from agent.rl.policy import load_policy

        run = RunLayout(models)
        encoder = load_encoder(run.encoder)
        policy = load_policy(run.rl)
        actor = AgentActor(policy, encoder_dim=encoder.spec.feature_dim)
        narrator = load_narrator(run.agent_narrator)
        return cls(config, CommandParser.load(run.commands), actor, agent_perception(run, policy, encoder), narrator,
                   seed=seed, gui=gui, film=film)

    def reset(self, seed: int | None = None) -> None:
        """A new scene (the next seed unless one is given)."""
        from agent.config import SEED_MAX

        # the next seed wraps to 0 after the largest one --seed accepts
        self.seed = (self.seed + 1) % (SEED_MAX + 1) if seed is None else seed
        self.obs, _ = self.env.reset(seed=self.seed)

    def offered(self) -> list[Task]:
        from envs.tasks import offered_tasks

        return offered_tasks(self.env.state())

    def run(self, text: str, *, fresh_scene: bool = False,
            on_narration: Callable[[NarrationLine], None] | None = None) -> Outcome:
        """Carry out one command in the scene as it is (or, with fresh_scene, in a new scene from the
        session's seed in which the command can be carried out)."""
        self.last = self._run(text, fresh_scene, on_narration)
        return self.last

    def _run(self, text: str, fresh_scene: bool, on_narration) -> Outcome:
        parsed = self.parser.parse(text)
        if "error" in parsed:
            return Outcome(text, refused=parsed["error"], suggestions=parsed.get("suggestions", []))
        task = Task(parsed["task"], parsed["block"])
        if fresh_scene:
            self.obs, _ = self.env.reset(seed=self.seed, options={"task": task})
        try:
            self.obs, _ = self.env.begin_task(task)
        except ValueError as e:  # the scene cannot do it now: nothing moves
            from envs.instructions import phrasings

            return Outcome(text, task, refused=str(e),
                           suggestions=[phrasings(t)[0] for t in self.offered()][:3])
        episode, self.obs = run_command(self.env, self.actor, task, text, obs=self.obs,
                                        narration=LearnedNarration(self.narrator), perception=self.perception,
                                        film=self.film, max_steps=self.config.rl.max_steps,
                                        tail_steps=self.config.demo.tail_steps, on_narration=on_narration)
        return Outcome(text, task, episode)

    def close(self) -> None:
        self.env.close()


def command_config(config: RunConfig, models: str | Path) -> RunConfig:
    """The config the models were trained with (image sizes must match), with this run's demo settings."""
    from agent.config import load_config

    from agent.integrity import check_near

    saved = RunLayout(models).rl / "config.yaml"
    if not saved.exists():
        return config
    check_near(saved)  # the manifest first: nothing of a damaged folder is parsed
    trained = load_config(saved)
    if config.env != trained.env and config.env != load_config().env:
        log.warning("the models were trained with other env settings (%s): using those, not this config's",
                    saved)
    return replace(config, env=trained.env, rl=replace(config.rl, max_steps=trained.rl.max_steps))
