"""The learned agent as an actor of the episode runner (agent.runner): it reads the perception
features, its previous action and the command's words, and points the eye itself.

How the words reach the policy (`listen`): "parser" (the default) hands it the command as the
command parser understood it, in the task's own first training wording: `start` receives the task
the parser read from the user's words (agent.command, agent.rl.evaluate), and the policy hears
"lift the green block" whether the user typed that, "hoist the green cube" or "could you raise
that green block". The parser is the part built and measured for words (blind sets, refusals,
opposites); a policy cloned on ten wordings per task misread unseen ones: on the recipe layouts the
same policy did 76.7% of the tasks told in the validation wordings and 94.4% told in the parser's
(benchmarks/results/agent_recipe.json). "words" embeds the user's text itself (the agent before
issue 23; kept to measure that).

Variants for evaluation (`gaze`, `ablate`) answer what each input is worth: the gaze fixed
on the middle of the desk, drawn at random, looking where the Markov teacher would (at what
the task is about, then where it goes, from the privileged state: a reference, not an agent) or chosen by the
learned attention policy (agent.attention) instead of the policy's own gaze head; the
periphery's features replaced by their mean (the policy then learns nothing from them).
"""

from __future__ import annotations

import numpy as np
import torch

from agent.language.embedding import embed_text
from agent.rl.demos import expert_action, start_action
from agent.rl.policy import AgentPolicy
from envs.instructions import phrasings

GAZE_MODES = ("policy", "fixed", "random", "expert", "attention")
LISTEN_MODES = ("parser", "words")
CENTRE_GAZE = np.array([0.0, 0.0, -1.0], np.float32)  # the middle of the desk, zoom 1x (as saccade/Desk-v0)


class AgentActor:
    needs_features = True

    def __init__(self, policy: AgentPolicy, *, gaze: str = "policy", ablate: tuple[str, ...] = (),
                 encoder_dim: int | None = None, seed: int = 0, attention=None, snap_to=None, listen: str = "parser"):
        if gaze not in GAZE_MODES:
            raise ValueError(f"gaze must be one of {GAZE_MODES}, got {gaze!r}")
        if listen not in LISTEN_MODES:
            raise ValueError(f"listen must be one of {LISTEN_MODES}, got {listen!r}")
        self.listen = listen
        if (gaze == "attention") != (attention is not None):
            raise ValueError("gaze='attention' needs an attention policy, and only it")
        self.policy = policy.eval()
        self.gaze, self.ablate = gaze, set(ablate)
        self.encoder_dim = encoder_dim
        self.rng = np.random.default_rng(seed)
        self.command: torch.Tensor | None = None
        self.prev: np.ndarray | None = None
        self.snap_to = snap_to  # GazeCandidates: the expert's gaze moved to the nearest candidate
        self.looker = None
        if attention is not None:
            from agent.attention.gaze import LearnedGaze

            self.looker = LearnedGaze(attention)

    def start(self, env, task, command: str) -> None:
        """task: what the parser read from the command (what the policy hears when it listens to the parser)."""
        self.command = embed_text(phrasings(task)[0] if self.listen == "parser" else command)
        self.prev = start_action(env.gaze.as_array())
        if self.gaze == "expert":  # the teacher's gaze (envs/teacher.py), from the privileged state
            from envs.teacher import MarkovTeacher

            self.expert = MarkovTeacher(task, max_step=env.config.max_step)
        if self.looker is not None:
            self.looker.start(self.command.numpy())

    def act(self, obs: dict, features: np.ndarray | None, env) -> np.ndarray:
        features = features.copy()
        if "periphery" in self.ablate:  # the periphery's slice of the features, set to its training mean
            d = self.encoder_dim
            features[d:2 * d] = self.policy.feature_mean[d:2 * d].numpy()
        action = self.policy.act(features, self.prev, self.command)
        if self.gaze == "fixed":
            action[4:7] = CENTRE_GAZE
        elif self.gaze == "random":
            action[4:7] = self.rng.uniform(-1, 1, 3).astype(np.float32)
        elif self.gaze == "expert":
            action[4:7] = expert_action(self.expert, env.privileged())[4:7]
            if self.snap_to is not None:
                action[4:7] = self.snap_to.array[self.snap_to.nearest(action[4:7])]
        elif self.gaze == "attention":
            action[4:7] = self.looker.next_gaze(features, obs["gaze"])
        self.prev = action
        return action
