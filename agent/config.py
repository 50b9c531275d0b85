"""Typed run configuration, loaded from YAML.

A config file maps onto nested dataclasses. An unknown key, a value of the wrong
type, a number out of its range (seeds, sizes, rates, step counts) or a non-finite
float is an error that names the key and the file; every run writes the resolved
config next to its outputs. `check_memory` compares what a command's batches and
images need with the memory this machine has, before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from envs.config import DeskConfig
from envs.tasks import ALL_TASKS, Task


class ConfigError(ValueError):
    """A bad config file or override; the message names the key and the file."""


SEED_MAX = 2 ** 32 - 1  # numpy's legacy seeding and most libraries take 32-bit seeds
INT_MAX = 2 ** 31 - 1  # any other count or size: beyond it, a typo rather than a setting
MAX_PROCESSES = 256  # worker and environment processes
MAX_VIDEO_SIDE = 4096  # pixels per side of a demo video
CONFIG_MAX_BYTES = 1_000_000  # a config file is a page of YAML; anything larger is the wrong file


@dataclass
class DemoConfig:
    fps: int = 24  # video frame rate; one frame per control step
    width: int = 480  # pixels of the rendered video
    height: int = 360
    max_steps: int = 150  # the demo stops here if the task is not done
    tail_steps: int = 12  # steps recorded after success so that the end is visible

    def __post_init__(self) -> None:
        for name in ("fps", "width", "height", "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if max(self.width, self.height) > MAX_VIDEO_SIDE:
            raise ValueError(f"width and height must be at most {MAX_VIDEO_SIDE} pixels")
        if self.width % 8 or self.height % 8:
            raise ValueError("width and height must be multiples of 8 (video codecs need it)")


@dataclass
class BenchConfig:
    state_steps: int = 3000  # steps per state-only measurement
    render_steps: int = 400  # steps per rendered measurement (ours)
    baseline_render_steps: int = 60  # steps per rendered measurement of the slow baseline
    rounds: int = 2  # measurements alternate cores each round; the median is reported
    memory_steps: int = 100_000  # steps of the leak check (glimpse observations, with resets)

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be positive")


@dataclass
class ExpertEvalConfig:
    episodes: int = 100  # seeds per task
    seed: int = 0  # first seed

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError("episodes must be positive")


@dataclass
class CollectConfig:
    episodes: int = 1200  # play episodes; about 85k steps, a few minutes on 2 cores
    chunk_episodes: int = 20  # episodes per chunk file (the unit of atomic writes and of resume)
    workers: int = 2  # collector processes
    frame_every: int = 5  # a full frame every this many steps
    expert_fraction: float = 0.5  # share of episodes where the scripted expert does a task
    noisy_expert_fraction: float = 0.25  # ... a very noisy expert; the rest is random motion
    expert_noise: float = 0.1  # action noise of the expert (std, action units)
    noisy_expert_noise: float = 0.5
    random_steps: int = 60  # length of a random-motion episode
    tail_steps: int = 10  # steps recorded after an expert's success

    def __post_init__(self) -> None:
        for name in ("episodes", "chunk_episodes", "workers", "frame_every", "random_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if not 0 <= self.expert_fraction + self.noisy_expert_fraction <= 1:
            raise ValueError("expert_fraction + noisy_expert_fraction must be within [0, 1]")


@dataclass
class EncoderConfig:
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])  # conv widths, each halves the image
    feature_dim: int = 128  # features used downstream (before the projection head)
    projection_dim: int = 64  # output of the projection head, used only by the loss
    temperature: float = 0.1  # NT-Xent temperature
    batch_size: int = 256  # anchors per step; the loss sees twice as many views
    steps: int = 2000  # about 9 minutes on 2 CPU cores
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temporal_fraction: float = 0.5  # share of positives that are a nearby frame of the same episode
    max_dt: int = 4  # steps apart that a temporal positive may be
    crop_scale: list[float] = field(default_factory=lambda: [0.4, 1.0])  # random resized crop area range
    colour_distortion: bool = True  # change the colour balance: brightness, contrast, saturation (+ hue, grayscale)
    colour_strength: float = 0.5
    # SimCLR also rotates the hue (0.2) and makes a view grayscale (p 0.2). Both are off here: on this
    # desk the blocks differ only by colour, and the language head needs it (docs/encoder.md).
    hue_jitter: float = 0.0  # hue rotation, up to this fraction of a turn times colour_strength
    grayscale_p: float = 0.0  # probability of a grayscale view
    buffer_chunks: int = 8  # chunks held in memory while streaming
    refresh_every: int = 25  # steps between swapping a chunk of the buffer for a new one
    checkpoint_every: int = 500
    log_every: int = 25

    def __post_init__(self) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError("channels must be a non-empty list of positive widths")
        if not 0.0 < self.temperature <= 10.0:
            raise ValueError("temperature must be in (0, 10]")
        if len(self.crop_scale) != 2 or not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError("crop_scale must be [low, high] with 0 < low <= high <= 1")
        for name in ("batch_size", "steps", "max_dt", "buffer_chunks", "refresh_every", "checkpoint_every",
                     "log_every", "feature_dim", "projection_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (the other samples are the negatives)")
        if not 0.0 <= self.hue_jitter <= 0.5 or not 0.0 <= self.grayscale_p <= 1.0:
            raise ValueError("hue_jitter must be in [0, 0.5] and grayscale_p in [0, 1]")


@dataclass
class SplitConfig:
    # Share of the play data's chunks (whole episodes) held out: no stage trains on them, every
    # evaluation scores on them. One setting, read by every stage.
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError("test_fraction must be in (0, 1)")


@dataclass
class ProbeConfig:
    max_train_samples: int = 20000
    max_test_samples: int = 8000
    supervised_steps: int = 1000  # end-to-end supervised reference
    ablation_steps: int = 0  # steps of the no-colour-distortion encoder; 0: as many as the main one


@dataclass
class CapsuleConfig:
    n_parts: int = 16  # K part capsules per glimpse
    n_objects: int = 8  # M object capsules
    template_size: int = 11  # pixels per side of a learned template
    part_feature_dim: int = 16
    object_feature_dim: int = 32
    channels: list[int] = field(default_factory=lambda: [32, 64])  # part encoder CNN widths
    set_dim: int = 64  # Set Transformer width
    set_heads: int = 4
    set_layers: int = 2
    pixel_std: float = 0.08  # per-pixel std of the image likelihood (colours in [0, 1])
    expected_objects: float = 4.0  # sparsity prior: object capsules present per glimpse
    located_parts: bool = True  # a part's translation is where its attention looks (False: regressed, as in SCAE)
    batch_size: int = 64
    steps: int = 4000
    lr: float = 3e-4
    buffer_chunks: int = 8
    refresh_every: int = 25
    checkpoint_every: int = 500
    log_every: int = 25
    viewpoint_steps: int = 2000  # parser and CNN training steps of the viewpoint-generalisation test
    eval_samples: int = 4000  # held-out glimpses scored by `saccade eval capsules`
    # Trained on the fovea only, where objects are large: chosen among the variants of
    # benchmarks/results/capsule_variants.json on training glimpses (it also finds more in the
    # periphery, which it never trains on, than the variant trained on both in turn).
    streams: list[str] = field(default_factory=lambda: ["fovea"])  # trained on, in turn
    # Equivariance and identity on glimpse pairs of one frozen scene (agent.perception.pairs)
    equivariance_weight: float = 1.0  # 0: no pairs are recorded or used
    identity_weight: float = 0.1
    # Which presence weighs an object in the identity term: "objects", its own presence (which the
    # sparsity prior holds near 0.5, so capsules that own no part are pulled as hard as present
    # ones; the measured default), or "places", the presence read from the parts it owns.
    identity_weighting: str = "objects"
    pair_every: int = 2  # every n-th training step is a batch of pairs
    pair_scenes: int = 400  # training scenes held still, each seen in pairs_per_scene pairs
    pair_test_scenes: int = 100  # held-out scenes for the equivariance error
    pairs_per_scene: int = 8
    pair_max_steps: int = 60  # the scene is held still after up to this many expert steps
    pair_saccade: float = 0.25  # std of the second gaze's move, in units of the gaze range (2 wide)
    pair_zoom_change: float = 0.5  # std of the second gaze's zoom change (the zoom range is 2 wide)
    eval_seeds: int = 3  # `saccade eval capsules` trains seeds seed+1.. too, for the median and spread
    slot_steps: int = 1500  # the Slot Attention anchor of `saccade eval capsules` (and its viewpoint run)
    slot_batch_size: int = 32  # its decoder renders every slot at full size: 4x the capsules' cost per glimpse
    slot_lr: float = 4e-4

    def __post_init__(self) -> None:
        from agent.perception.stream import STREAMS

        if not self.streams or any(s not in STREAMS for s in self.streams) or len(set(self.streams)) < len(self.streams):
            raise ValueError(f"streams must be a non-empty list of distinct names from {list(STREAMS)}, "
                             f"got {self.streams!r}")
        if self.identity_weighting not in ("objects", "places"):
            raise ValueError(f"identity_weighting must be 'objects' or 'places', got {self.identity_weighting!r}")
        for name in ("n_parts", "n_objects", "template_size", "part_feature_dim", "object_feature_dim", "set_dim",
                     "set_heads", "set_layers", "batch_size", "steps", "buffer_chunks", "refresh_every",
                     "checkpoint_every", "log_every", "viewpoint_steps", "eval_samples", "pair_every",
                     "pair_scenes", "pair_test_scenes", "pairs_per_scene", "eval_seeds", "slot_steps",
                     "slot_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.set_dim % self.set_heads:
            raise ValueError("set_dim must be a multiple of set_heads")
        if not 0.0 < self.pixel_std < 1.0:
            raise ValueError("pixel_std must be in (0, 1)")
        for name in ("equivariance_weight", "identity_weight", "pair_max_steps", "pair_saccade", "pair_zoom_change"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")

    def spec(self):
        from agent.perception.capsules import CapsuleSpec

        return CapsuleSpec(self.n_parts, self.n_objects, self.template_size, self.part_feature_dim,
                           self.object_feature_dim, list(self.channels), self.set_dim, self.set_heads,
                           self.set_layers, self.pixel_std, self.expected_objects, self.located_parts)


@dataclass
class NarratorConfig:
    window: int = 8  # steps of perception the narrator sees
    prefix_tokens: int = 4  # perception -> this many prefix embeddings for the decoder
    n_embd: int = 64  # GPT-2 width
    n_layer: int = 2
    n_head: int = 4
    steps: int = 4000  # about 3 minutes on 2 CPU cores
    batch_size: int = 128
    lr: float = 1e-3

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name} must be positive")
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be a multiple of n_head")


@dataclass
class RewardConfig:
    embed_dim: int = 64  # shared space of clips and commands
    temperature: float = 0.1
    steps: int = 600
    batch_size: int = 64
    lr: float = 1e-3

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name} must be positive")


@dataclass
class RLConfig:
    """The acting agent (`saccade train rl`): imitation of the scripted expert, then a thin PPO layer."""

    # Imitation: expert episodes per task, with DART-style noise on what is executed (the label
    # stays the expert's clean action), so that the data covers the states a learner drifts into.
    tasks: list[str] = field(default_factory=list)  # what the agent learns, e.g. [press_button]; empty: all 18
    demos_per_task: int = 100
    # Who labels the demonstrations: "markov" (envs/teacher.py: action and gaze a function of the
    # state alone, so the same state always gets the same label) or "scripted" (envs/expert.py,
    # whose labels depend on its phase counters: the recipe before issue 23).
    teacher: str = "markov"
    # This share of the demonstrations starts where another command, run by the teacher with noise,
    # left the scene and the arm: a second command starts there, never from rest.
    chain_start_fraction: float = 0.3
    # The policy also reads the hand's position relative to where the eye looks (hand minus gaze
    # point, desk frame): with the eye on the task's object, the vector the arm must close.
    hand_relative: bool = True
    arm_noise: float = 0.3  # upper end of the per-episode noise on executed arm actions (std)
    gaze_noise: float = 0.15  # std of the noise on the executed gaze (normalised units)
    # Draw the gaze noise's std per episode, up to gaze_noise, as the arm's: some episodes then look
    # where the teacher looks, so that hand minus gaze point means what it says there.
    gaze_noise_per_episode: bool = True
    workers: int = 2  # processes collecting demonstrations
    # DAgger rounds after the first cloning: the policy acts, the expert labels the states it
    # reaches, and the policy is cloned again on everything so far. Off: with this expert, whose
    # labels depend on its phase (a history) and not on the state alone, one round took the
    # agent from 46% to 8% (docs/agent.md).
    dagger_rounds: int = 0
    hidden: list[int] = field(default_factory=lambda: [256, 256])  # the policy's MLP
    prev_action: bool = False  # the policy also reads its previous action (off: it learned to copy it)
    bc_steps: int = 6000  # gradient steps of behaviour cloning
    bc_batch_size: int = 512
    bc_lr: float = 1e-3
    # The gaze's share of the cloning loss: one normalised gaze unit is 30-40 cm of desk, so an
    # unweighted squared error hardly notices the few centimetres that decide a grasp.
    gaze_loss_weight: float = 10.0
    # The thin RL layer: PPO on the imitation policy, perception frozen, rewarded by the learned
    # reward for the command (scaled) plus the task's success.
    ppo_steps: int = 8192  # environment steps; 0 skips the RL layer
    ppo_envs: int = 2  # vectorised environments, one process each
    ppo_n_steps: int = 512  # rollout length per environment between updates
    ppo_lr: float = 3e-5
    ppo_log_std: float = -1.6  # initial exploration noise (std about 0.2 in action units)
    reward: str = "both"  # learned | success | both
    learned_reward_scale: float = 0.1
    max_steps: int = 120  # time limit of one command, control steps
    # Evaluation (`saccade eval agent`): held-out seeds, validation phrasings.
    eval_episodes: int = 50  # per task
    eval_chains: int = 100
    checkpoint_every: int = 2048
    # EvalCallback during PPO: deterministic episodes at every checkpoint, logged as eval/success_rate
    # and kept in rl/ppo/eval/evaluations.npz (a training monitor; the proof is `saccade eval agent`).
    ppo_eval_episodes: int = 5  # 0: no evaluation during PPO
    # The narrator adapted to the agent's own episodes (agent/rl/narration.py): episodes per task
    # (0: the agent is narrated by the language stage's narrator), fine-tuning steps and rate.
    narration_episodes_per_task: int = 30
    narration_steps: int = 2000
    narration_lr: float = 3e-4
    # The policy also reads the capsule scene memory (agent/rl/capsule_inputs.py) built from the
    # object capsules of these streams' glimpses; empty: encoder features only. An imitation-only
    # measure so far (benchmarks/agent_capsule_memory.sh): PPO and the narrator's adaptation do
    # not read the memory, so it needs ppo_steps and narration_episodes_per_task at 0.
    capsule_memory: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from agent.perception.stream import STREAMS

        for name in self.tasks:
            Task.parse(name)  # names the known tasks
        if any(s not in STREAMS for s in self.capsule_memory) or len(set(self.capsule_memory)) < len(self.capsule_memory):
            raise ValueError(f"capsule_memory must be a list of distinct names from {list(STREAMS)}, "
                             f"got {self.capsule_memory!r}")
        if self.capsule_memory and (self.ppo_steps or self.narration_episodes_per_task):
            raise ValueError("capsule_memory needs ppo_steps: 0 and narration_episodes_per_task: 0 (the PPO layer "
                             "and the narrator's adaptation do not read the capsule memory yet)")
        if self.gaze_loss_weight < 0:
            raise ValueError(f"gaze_loss_weight must not be negative, got {self.gaze_loss_weight}")
        if self.teacher not in ("markov", "scripted"):
            raise ValueError(f"teacher must be markov or scripted, got {self.teacher!r}")
        if self.reward not in ("learned", "success", "both"):
            raise ValueError("reward must be learned, success or both")
        for name in ("demos_per_task", "workers", "bc_steps", "bc_batch_size", "ppo_envs", "ppo_n_steps",
                     "max_steps", "eval_episodes", "eval_chains", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.ppo_eval_episodes < 0:
            raise ValueError("ppo_eval_episodes must not be negative")
        if self.ppo_steps < 0 or self.arm_noise < 0 or self.gaze_noise < 0 or self.dagger_rounds < 0:
            raise ValueError("ppo_steps, dagger_rounds, arm_noise and gaze_noise must not be negative")
        # Layout seeds of demonstrations, DAgger rounds, PPO and evaluation live in separate bands
        # (agent.rl.demos, agent.rl.env, agent.rl.evaluate): these limits keep them apart.
        if self.demos_per_task * len(self.tasks or ALL_TASKS) >= 100_000 or self.dagger_rounds > 9:
            raise ValueError("at most 99,999 demonstration episodes per round and 9 DAgger rounds")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError("hidden must be a non-empty list of positive widths")

    def task_list(self) -> list[Task]:
        """The tasks the agent learns and is measured on."""
        return [Task.parse(t) for t in self.tasks] if self.tasks else list(ALL_TASKS)


@dataclass
class AttentionConfig:
    """Where to look next (`saccade train attention`): a gaze policy apart from the arm's.

    It chooses among candidate gazes (a grid of points on the gaze rectangle, at a few zooms) and
    is trained with PPO on glimpse banks: states of scripted-expert episodes at which every
    candidate glimpse was rendered and encoded once, so that an episode of the gaze policy costs
    lookups, not renders."""

    grid: int = 6  # candidate gaze points per side of the gaze rectangle
    zooms: list[float] = field(default_factory=lambda: [1.0, 2.0])  # candidate zoom factors (1x to 4x)
    # Expert episodes whose states make the scenes of each split (scenes_per_episode each).
    train_episodes: int = 300
    validation_episodes: int = 60  # chooses the reward kind that is shipped
    test_episodes: int = 60  # `saccade eval attention` only
    scenes_per_episode: int = 4
    glimpses: int = 8  # K: glimpses per episode of the gaze policy; the memory holds the last K - 1
    memory_dim: int = 16  # each glimpse's fovea and periphery features, reduced by PCA, in the memory
    # The reward kinds trained and compared (agent.attention.rewards); "privileged" (looking where the
    # scripted expert looks) is a named comparison, never shipped.
    rewards: list[str] = field(default_factory=lambda: ["acting", "scene", "privileged"])
    zoom_change_cost: float = 0.02  # per glimpse that changes the zoom
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    ppo_steps: int = 60000  # per reward kind
    ppo_envs: int = 8  # bank environments, all in one process (a step is a lookup)
    ppo_n_steps: int = 256
    ppo_lr: float = 3e-4
    ppo_ent_coef: float = 0.01
    checkpoint_every: int = 10000
    probe_l2: float = 1.0  # ridge penalty of the scene probes (on standardised memories)
    workers: int = 2  # processes recording banks and running in-loop evaluations
    eval_episodes: int = 10  # in-loop evaluation: episodes per task and gaze policy

    def __post_init__(self) -> None:
        for name in ("grid", "train_episodes", "validation_episodes", "test_episodes", "scenes_per_episode",
                     "memory_dim", "ppo_envs", "ppo_n_steps", "checkpoint_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.glimpses < 2:
            raise ValueError("glimpses must be at least 2")
        if not self.zooms or any(not 1.0 <= z <= 4.0 for z in self.zooms):
            raise ValueError("zooms must be a non-empty list of zoom factors between 1 and 4")
        if not {"acting", "scene"} & set(self.rewards) or any(r not in ("acting", "scene", "privileged")
                                                                for r in self.rewards):
            raise ValueError("rewards must list acting and/or scene (the kinds that may be shipped), "
                             "and may add privileged")
        if self.ppo_steps < 0 or self.zoom_change_cost < 0 or self.probe_l2 <= 0:
            raise ValueError("ppo_steps and zoom_change_cost must not be negative, probe_l2 must be positive")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError("hidden must be a non-empty list of positive widths")
        if max(self.train_episodes, self.validation_episodes, self.test_episodes) >= 100_000:
            raise ValueError("at most 99,999 episodes per split")


@dataclass
class RunConfig:
    seed: int = 0  # seeds everything: layouts, sampling, training
    run_dir: str = "runs/default"  # where stages write their outputs
    device: str = "cpu"  # torch device of every learning stage (cpu or cuda); the desk always runs on the CPU
    split: SplitConfig = field(default_factory=SplitConfig)
    env: DeskConfig = field(default_factory=DeskConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    expert_eval: ExpertEvalConfig = field(default_factory=ExpertEvalConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    probes: ProbeConfig = field(default_factory=ProbeConfig)
    capsules: CapsuleConfig = field(default_factory=CapsuleConfig)
    narrator: NarratorConfig = field(default_factory=NarratorConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)


def _is_rate(name: str) -> bool:
    return name == "lr" or name.endswith("_lr")


def _range_of(key: str, name: str, value: Any) -> tuple[float, float, bool] | None:
    """(low, high, low_open) for a number setting; None: only finiteness is checked (floats)."""
    if name == "seed":
        return 0, SEED_MAX, False
    if name in ("workers", "ppo_envs"):
        return 1, MAX_PROCESSES, False
    if _is_rate(name):
        return 0.0, 1.0, True  # a learning rate above 1 is a typo for these Adam optimisers
    if name.endswith("_fraction") or name.endswith("_p") or name == "colour_strength":
        return 0.0, 1.0, False
    if name.endswith("noise") or name in ("weight_decay", "learned_reward_scale"):
        return 0.0, 1e3, False
    if name in ("temperature", "expected_objects"):
        return 0.0, 1e3, True
    if name == "ppo_log_std":
        return -20.0, 2.0, False  # std from 2e-9 to 7.4 action units
    if isinstance(value, int):
        return 0, INT_MAX, False  # no count or size may be negative; positivity is each section's check
    return None


def validate(config: RunConfig, context: str = "") -> None:
    """Raise ConfigError naming the first setting out of its range: every number is finite, seeds
    are 32-bit, counts are not negative, rates are in (0, 1], fractions in [0, 1]."""

    def walk(node: Any, prefix: str) -> None:
        for f in fields(node):
            value, key = getattr(node, f.name), prefix + f.name
            if dataclasses.is_dataclass(value):
                walk(value, key + ".")
                continue
            items = value if isinstance(value, list) else [value]
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if isinstance(v, float) and not math.isfinite(v):
                    raise ConfigError(f"{context}{key} must be a finite number, got {v}")
                limits = _range_of(key, f.name, v)
                if limits is None:
                    continue
                low, high, low_open = limits
                if v < low or v > high or (low_open and v == low):
                    span = f"{'(' if low_open else '['}{low}, {high}]"
                    raise ConfigError(f"{context}{key} must be in {span}, got {_shown(v)}")

    walk(config, "")


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:20] + f"... ({len(text)} digits)"


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"


def memory_needs(config: RunConfig) -> dict[str, tuple[float, str]]:
    """A lower bound on the bytes that each section's largest allocation takes, and what it is.

    Deliberately a lower bound (one copy of the batch and its activations, no framework overhead):
    it only has to catch settings that cannot fit, never refuse ones that might.
    """
    env, collect, enc, cap = config.env, config.collect, config.encoder, config.capsules
    f32 = 4

    def image(side: int) -> int:
        return 3 * side * side

    glimpse = max(env.fovea_size, env.periphery_size)
    step = image(env.fovea_size) + image(env.periphery_size) + image(env.frame_size) / collect.frame_every
    chunk = collect.chunk_episodes * (env.max_episode_steps + collect.tail_steps) * step  # uint8 images
    # Each conv layer halves the image; its activations are kept for the backward pass.
    conv = image(glimpse) + sum(c * (glimpse / 2 ** (i + 1)) ** 2 for i, c in enumerate(enc.channels))
    caps_conv = image(glimpse) + sum(c * (glimpse / 2 ** (i + 1)) ** 2 for i, c in enumerate(cap.channels))
    narrator = config.narrator
    return {
        "env": (step, f"one observation ({env.fovea_size}/{env.periphery_size}/{env.frame_size} pixel images)"),
        "collect": (chunk, f"one chunk of play data (collect.chunk_episodes={collect.chunk_episodes} episodes "
                           f"of up to {env.max_episode_steps} steps)"),
        "encoder": (2 * enc.batch_size * conv * f32 + enc.buffer_chunks * chunk,
                    f"one batch (encoder.batch_size={enc.batch_size}, two views of {glimpse}x{glimpse} glimpses) "
                    f"and the chunk buffer (encoder.buffer_chunks={enc.buffer_chunks})"),
        "capsules": (cap.batch_size * (caps_conv + cap.n_parts * image(glimpse)) * f32 + cap.buffer_chunks * chunk,
                     f"one batch (capsules.batch_size={cap.batch_size}, {cap.n_parts} part images of "
                     f"{glimpse}x{glimpse} each) and the chunk buffer"),
        "narrator": (narrator.batch_size * (narrator.prefix_tokens + narrator.window) * narrator.n_embd
                     * narrator.n_layer * 8 * f32,
                     f"one batch (narrator.batch_size={narrator.batch_size})"),
        "reward": (config.reward.batch_size ** 2 * f32 + config.reward.batch_size * 2 * image(glimpse) * f32,
                   f"one batch (reward.batch_size={config.reward.batch_size})"),
        "rl": (config.rl.bc_batch_size * sum(config.rl.hidden) * 3 * f32,
               f"one batch (rl.bc_batch_size={config.rl.bc_batch_size})"),
        "attention": (_attention_bytes(config), f"the glimpse banks and probe memories (attention.grid="
                      f"{config.attention.grid}, train_episodes={config.attention.train_episodes})"),
        "demo": ((config.demo.max_steps + config.demo.tail_steps) * config.demo.width * config.demo.height * 3,
                 f"the video's frames ({config.demo.width}x{config.demo.height}, demo.max_steps="
                 f"{config.demo.max_steps})"),
    }


def _attention_bytes(config: RunConfig) -> float:
    """The train and test banks' features as float32, and the full-feature memories the scene probes read."""
    a = config.attention
    scenes = (a.train_episodes + a.test_episodes) * a.scenes_per_episode
    candidates = a.grid * a.grid * len(a.zooms)
    return scenes * candidates * (2 * config.encoder.feature_dim + 1) * 4 * 2


def available_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def check_memory(config: RunConfig, sections: tuple[str, ...] | list[str]) -> None:
    """Refuse, with the figures, settings whose batches or images cannot fit in this machine's memory
    (they would otherwise hang for minutes or die in an allocation deep inside a library)."""
    needs = memory_needs(config)
    free = available_memory()
    for section in sections:
        need, what = needs[section]
        if need > free:
            raise ConfigError(f"{section}: {what} needs at least {_human_bytes(need)} of memory; this machine "
                              f"has {_human_bytes(free)} available: lower those settings")


def _check_type(value: Any, annotation: Any, key: str) -> Any:
    """Return value converted to the annotated type, or raise naming the key."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of settings, got {type(value).__name__}")
        return _build(annotation, value, key)
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an int too large for a float
                raise ConfigError(f"{key}: {value} is too large") from None
            if not math.isfinite(number):
                raise ConfigError(f"{key}: expected a finite number, got {value!r}")
            return number
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(value, list):
            return [_check_type(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
    else:
        raise ConfigError(f"{key}: unsupported type {annotation}")
    raise ConfigError(f"{key}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")


def _build(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            path = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"unknown key {path!r}; known keys here: {', '.join(sorted(known))}")
    kwargs = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _check_type(value, hints[name], path)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise  # already names its key
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{prefix or 'config'}: {e}") from None


def _apply_override(data: dict, override: str) -> None:
    """'env.fovea_size=48' -> data['env']['fovea_size'] = 48 (the value is parsed as YAML)."""
    key, sep, raw = override.partition("=")
    shown = override if len(override) <= 60 else override[:50] + "..."
    if not sep or not key:
        raise ConfigError(f"override {shown!r} must look like key.sub=value")
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {shown!r}: {part!r} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError) as e:  # ValueError: an int of more digits than Python converts
        problem = str(getattr(e, "problem", None) or "not valid YAML")
        raise ConfigError(f"override {shown!r}: the value is not valid YAML ({problem}); quote strings, "
                          "write lists as [a, b]") from None


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load a YAML config (None: all defaults) and apply 'key=value' overrides."""
    data: dict = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        text = _read_config_text(Path(path))
        try:
            data = yaml.safe_load(text) or {}
        except (yaml.YAMLError, ValueError) as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
    try:
        for override in overrides:
            _apply_override(data, override)
        config = _build(RunConfig, data)
        validate(config)  # the ranges; also called by the CLI after its own --seed
        return config
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def _read_config_text(path: Path) -> str:
    """The text of a config file, or ConfigError saying what is wrong with the file."""
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder, not a YAML file")
    try:
        with open(path, "rb") as f:
            raw = f.read(CONFIG_MAX_BYTES + 1)  # bounded: --config /dev/zero must not fill the memory
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from None
    if len(raw) > CONFIG_MAX_BYTES:
        raise ConfigError(f"config file {path} is larger than {CONFIG_MAX_BYTES // 1000} kB: not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not text (not UTF-8): is it the right file?") from None
    if "\0" in text:
        raise ConfigError(f"config file {path} is binary (holds NUL bytes): is it the right file?")
    return text


def config_to_dict(config: Any) -> dict:
    return asdict(config)


def save_config(config: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path
