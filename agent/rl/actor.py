"""The learned agent as an actor of the episode runner (agent.runner): it reads the perception
features, its previous action and the command's words, and points the eye itself.

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

GAZE_MODES = ("policy", "fixed", "random", "expert", "attention")
CENTRE_GAZE = np.array([0.0, 0.0, -1.0], np.float32)  # the middle of the desk, zoom 1x (as saccade/Desk-v0)


class AgentActor:
    needs_features = True

    def __init__(self, policy: AgentPolicy, *, gaze: str = "policy", ablate: tuple[str, ...] = (),
                 encoder_dim: int | None = None, seed: int = 0, attention=None, snap_to=None):
        if gaze not in GAZE_MODES:
            raise ValueError(f"gaze must be one of {GAZE_MODES}, got {gaze!r}")
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
        self.command = embed_text(command)
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
