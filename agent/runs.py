"""The run layout: every stage's folder in a run, in one place.

    run = RunLayout("runs/default")
    run.collect, run.encoder, run.capsules       # play data and frozen perception
    run.commands, run.narrator, run.reward       # the language stage's three models
    run.attention, run.rl                         # the gaze policy and the acting policy
    run.eval("agent")                             # runs/default/eval_agent: an evaluation's pictures

Every stage writes into its folder its weights (safetensors + JSON), the resolved
`config.yaml` and `metrics.json` (agent.stages writes the last two, the same way for all).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    def stage(self, name: str) -> Path:
        return self.root / name

    @property
    def collect(self) -> Path:
        return self.root / "collect"

    @property
    def encoder(self) -> Path:
        return self.root / "encoder"

    @property
    def capsules(self) -> Path:
        return self.root / "capsules"

    @property
    def language(self) -> Path:
        return self.root / "language"

    @property
    def commands(self) -> Path:
        return self.language / "commands"

    @property
    def narrator(self) -> Path:
        return self.language / "narrator"

    @property
    def reward(self) -> Path:
        return self.language / "reward"

    @property
    def agent_narrator(self) -> Path:
        """The narrator a user of the agent hears: the one the rl stage adapted to the agent's own
        episodes (agent/rl/narration.py), else the language stage's."""
        adapted = self.rl / "narrator"
        return adapted if (adapted / "narrator.json").exists() else self.narrator

    @property
    def attention(self) -> Path:
        return self.root / "attention"

    @property
    def rl(self) -> Path:
        return self.root / "rl"

    def eval(self, what: str) -> Path:
        """Where `saccade eval WHAT` writes its pictures and the models it trains for comparison."""
        return self.root / f"eval_{what}"


# The folder names of the stages (agent.stages.ORDER) and what marks one as a stage's folder: its
# manifest, its config or its lock (agent.stages writes them; the shipped agent keeps manifests).
STAGE_FOLDERS = ("collect", "encoder", "capsules", "language", "rl", "attention")
STAGE_MARKS = ("MANIFEST.json", "config.yaml", ".lock")


def stage_folder_of(path: str | Path) -> Path | None:
    """The stage folder (of a run, or of an agent folder) that a file at `path` would lie in, if
    any: a file written there would overwrite, or sit among, what the stage's manifest guards.
    Links in the folders above are followed, so a link into a stage folder is found too."""
    folder = Path(path).resolve().parent
    for candidate in (folder, *folder.parents):
        if candidate.name in STAGE_FOLDERS and any((candidate / m).exists() for m in STAGE_MARKS):
            return candidate
    return None
