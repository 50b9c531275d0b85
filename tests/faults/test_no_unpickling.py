"""Nothing from a handed-over folder runs (issue 22): every place that reads a stable-baselines3
archive is given an armed one (a pickle whose __reduce__ creates a marker file, in the archive's
"data" entry and in its policy.pth), and the marker is never created; the result is a one-line
refusal, or, where only the "data" entry is armed, the correct model."""

import base64
import io
import json
import pickle
import zipfile
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from faultkit import tiny


class Armed:
    """Unpickled, it creates the marker file: what a hostile archive would do with a real payload."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "a")


def arm(path: Path, marker: Path, *, tensors_from: Path | None = None, poison_tensors: bool = True) -> Path:
    """An SB3-shaped zip archive at path: a "data" entry whose serialized value is the armed pickle
    (SB3's json_to_data would cloudpickle.loads it), and policy.pth / policy.optimizer.pth that are
    the armed pickle too (poison_tensors) or copied from the real archive tensors_from."""
    payload = base64.b64encode(pickle.dumps(Armed(marker))).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": payload},
            "observation_space": {":type:": "<class 'gymnasium.spaces.box.Box'>", ":serialized:": payload}}
    real = zipfile.ZipFile(tensors_from) if tensors_from is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps(data))
        for name in ("policy.pth", "policy.optimizer.pth"):
            if poison_tensors or real is None:
                buffer = io.BytesIO()
                torch.save(Armed(marker), buffer)
                archive.writestr(name, buffer.getvalue())
            else:
                archive.writestr(name, real.read(name))
    if real is not None:
        real.close()
    return path


class Flat(gym.Env):
    """A stand-in for the desk's wrappers: the spaces a PPO is built for, episodes of 4 steps."""

    def __init__(self, dim: int, action):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = action
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.normal(size=self.observation_space.shape).astype(np.float32)
        return obs, float(self.t), self.t >= 4, False, {"is_success": self.t >= 4}


def small_ppo(seed: int = 0):
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = DummyVecEnv([lambda: Monitor(Flat(5, gym.spaces.Box(-1, 1, (2,), np.float32)))])
    return PPO("MlpPolicy", vec, n_steps=16, batch_size=16, n_epochs=1, seed=seed, verbose=0,
               policy_kwargs={"net_arch": [8]})


def one_line(e: Exception, *words: str) -> str:
    text = str(e)
    assert "\n" not in text and all(w in text for w in words), text
    return text


def test_the_armed_archive_runs_its_code_in_stable_baselines3s_own_loader(tmp_path):
    """The threat is real: PPO.load unpickles the "data" entry (the marker appears)."""
    from stable_baselines3 import PPO

    marker = tmp_path / "marker"
    with pytest.raises(Exception):
        PPO.load(arm(tmp_path / "a.zip", marker))
    assert marker.exists()


def test_checkpoint_round_trip_restores_tensors_and_counts(tmp_path):
    from agent.sb3_archive import restore_checkpoint, save_checkpoint

    model = small_ppo()
    model.learn(48)
    path = save_checkpoint(model, tmp_path / "ppo_48_steps")
    assert path.name == "ppo_48_steps.zip" and (tmp_path / "ppo_48_steps.json").is_file()
    with zipfile.ZipFile(path) as archive:  # tensors only: nothing pickled beyond them
        assert sorted(archive.namelist()) == ["policy.optimizer.pth", "policy.pth"]
    again = small_ppo(seed=1)
    restore_checkpoint(again, path)
    for (k, a), b in zip(model.policy.state_dict().items(), again.policy.state_dict().values()):
        assert torch.equal(a, b), k
    assert again.num_timesteps == 48 and again._n_updates == model._n_updates
    assert list(again.ep_success_buffer) == list(model.ep_success_buffer) and len(again.ep_info_buffer) > 0
    again.learn(16, reset_num_timesteps=False)
    assert again.num_timesteps == 64  # continued, not restarted


@pytest.mark.parametrize("case", ["armed tensors", "not a zip", "a folder", "a FIFO", "tensors of another model",
                                  "sidecar says other steps", "sidecar of wrong types"])
def test_a_bad_checkpoint_is_refused_in_one_line_and_runs_nothing(tmp_path, case):
    import os

    from agent.sb3_archive import ArchiveError, restore_checkpoint, save_checkpoint

    marker, path = tmp_path / "marker", tmp_path / "ppo_32_steps.zip"
    if case == "armed tensors":
        arm(path, marker)
    elif case == "not a zip":
        path.write_bytes(b"PK\x03\x04 nothing of a zip")
    elif case == "a folder":
        path.mkdir()
    elif case == "a FIFO":
        os.mkfifo(path)  # read, it would block forever
    else:
        model = small_ppo()
        if case == "tensors of another model":
            from stable_baselines3 import PPO

            model = PPO("MlpPolicy", model.env, n_steps=16, batch_size=16, policy_kwargs={"net_arch": [4]})
        save_checkpoint(model, tmp_path / "ppo_32_steps")
        side = json.loads((tmp_path / "ppo_32_steps.json").read_text())
        if case == "sidecar says other steps":
            side["num_timesteps"] = 64
        if case == "sidecar of wrong types":
            side["ep_info_buffer"] = [{"r": "x", "l": 1, "t": 0}]
        (tmp_path / "ppo_32_steps.json").write_text(json.dumps(side))
    with pytest.raises(ArchiveError) as e:
        restore_checkpoint(small_ppo(), path)
    one_line(e.value, str(path.parent))
    assert not marker.exists()


def test_only_the_tensors_of_an_archive_with_armed_data_are_read(tmp_path):
    """An archive whose "data" entry is armed but whose tensors are real loads correctly."""
    from agent.sb3_archive import load_parameters, save_parameters

    model = small_ppo()
    real = save_parameters(model, tmp_path / "real.zip")
    marker = tmp_path / "marker"
    armed = arm(tmp_path / "armed.zip", marker, tensors_from=real, poison_tensors=False)
    other = small_ppo(seed=3)
    load_parameters(other, armed)
    assert all(torch.equal(a, b) for a, b in zip(model.policy.parameters(), other.policy.parameters()))
    assert not marker.exists()


# --- every reader in saccade ---------------------------------------------------------------------------

def test_attention_resume_refuses_an_armed_checkpoint(tmp_path):
    """agent.attention.train.train_kind --resume."""
    from agent.attention.env import BankView, RewardScales
    from agent.attention.policy import AttentionPolicy, AttentionSpec
    from agent.attention.rewards import ScenePredictor
    from agent.attention.train import train_kind
    from agent.sb3_archive import ArchiveError

    rng = np.random.default_rng(0)
    view = BankView(fovea=rng.normal(size=(16, 9, 2)).astype(np.float32),
                    periphery=rng.normal(size=(16, 9, 2)).astype(np.float32), proprio=np.zeros((16, 14), np.float32),
                    command=np.eye(2, 8, dtype=np.float32)[rng.integers(0, 2, 16)],
                    act_error=rng.uniform(size=(16, 9)).astype(np.float32),
                    look_distance=rng.uniform(size=(16, 9)).astype(np.float32), zoom_of=np.zeros(9, int))
    config = tiny(tmp_path, "attention.ppo_steps=64", "attention.ppo_n_steps=32", "attention.glimpses=2")
    spec = AttentionSpec(grid=3, zooms=[1.0], feature_dim=2, memory_dim=2, glimpses=2, hidden=[8], text_dim=8,
                         reward="acting")
    predictor = ScenePredictor().fit(view.fovea, view.periphery, 2, np.random.default_rng(0))
    marker = tmp_path / "marker"
    arm(tmp_path / "acting" / "checkpoints" / "ppo_32_steps.zip", marker)
    with pytest.raises(ArchiveError) as e:
        train_kind(config, AttentionPolicy(spec), view, predictor, RewardScales("acting", 1, 1, 1, 0),
                   tmp_path / "acting", tmp_path / "tb", resume=True, progress=False)
    one_line(e.value, "ppo_32_steps.zip")
    assert not marker.exists()


def test_rl_resume_refuses_an_armed_checkpoint(tmp_path, monkeypatch):
    """agent.rl.ppo.finetune --resume (the desk replaced by a stand-in with its spaces)."""
    import agent.rl.ppo as ppo
    from agent.rl.policy import ACTION_DIM, AgentPolicy, PolicySpec
    from agent.sb3_archive import ArchiveError

    spec = PolicySpec(feature_dim=4, hidden=[8], text_dim=4)
    action = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
    monkeypatch.setattr(ppo, "_make_env", lambda *a: lambda: Flat(spec.input_dim, action))
    marker = tmp_path / "marker"
    arm(tmp_path / "rl" / "checkpoints" / "ppo_32_steps.zip", marker)
    config = tiny(tmp_path, "rl.ppo_eval_episodes=0")
    with pytest.raises(ArchiveError) as e:
        ppo.finetune(config, AgentPolicy(spec), tmp_path / "rl", resume=True)
    one_line(e.value, "ppo_32_steps.zip")
    assert not marker.exists()


def test_in_loop_resume_refuses_an_armed_checkpoint(tmp_path, monkeypatch):
    """agent.attention.loop.finetune_in_loop --resume (the loop's desk replaced by a stand-in)."""
    import agent.attention.loop as loop
    from agent.attention.candidates import GazeCandidates  # noqa: F401  (the policy's candidates)
    from agent.attention.memory import Reduction
    from agent.attention.policy import AttentionPolicy, AttentionSpec, save_attention
    from agent.sb3_archive import ArchiveError

    spec = AttentionSpec(grid=3, zooms=[1.0], feature_dim=2, memory_dim=2, glimpses=2, hidden=[8], text_dim=8,
                         reward="acting")
    policy = AttentionPolicy(spec)
    feats = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    policy.set_reductions(Reduction.fit(feats, 2), Reduction.fit(feats, 2), np.zeros((4, 14), np.float32))
    save_attention(policy, tmp_path / "gaze", {"seed": 0})
    n = spec.n_candidates
    monkeypatch.setattr(loop, "_make", lambda *a: lambda: Flat(spec.input_dim, gym.spaces.Discrete(n)))
    marker = tmp_path / "marker"
    arm(tmp_path / "loop" / "checkpoints" / "ppo_32_steps.zip", marker)
    with pytest.raises(ArchiveError) as e:
        loop.finetune_in_loop(tiny(tmp_path), tmp_path / "gaze", tmp_path / "loop", 64, resume=True)
    one_line(e.value, "ppo_32_steps.zip")
    assert not marker.exists()


@pytest.mark.parametrize("mode", ["state", "pixels"])
def test_eval_agent_and_eval_attention_refuse_an_armed_baseline(tmp_path, mode):
    """agent.rl.evaluate.scratch_baselines (its cached baselines) and
    agent.attention.evaluate.full_frame_ppo (the full-frame PPO that eval agent kept)."""
    from agent.attention.evaluate import full_frame_ppo
    from agent.rl.evaluate import scratch_baselines
    from agent.runs import RunLayout
    from agent.sb3_archive import ArchiveError

    config = tiny(tmp_path)
    config = replace(config, env=replace(config.env, frame_size=36))  # SB3's NatureCNN needs 36 pixels
    run = RunLayout(tmp_path / "run")
    marker = tmp_path / "marker"
    arm(run.eval("agent") / f"ppo_{mode}_64.zip", marker)
    with pytest.raises(ArchiveError) as e:
        if mode == "pixels":
            full_frame_ppo(config, run, 1)
        else:
            scratch_baselines(config, run, 64, 1)
    one_line(e.value, f"ppo_{mode}_64.zip")
    assert not marker.exists()


def test_eval_agent_reads_its_own_cached_baseline_correctly(tmp_path):
    """A baseline cached by eval agent (tensors only) is read back as the same model."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agent.rl.baselines import _make, load_baseline, new_baseline
    from agent.sb3_archive import save_parameters

    config = tiny(tmp_path)
    vec = DummyVecEnv([_make(config, "state")])
    try:
        model = new_baseline(replace(config, seed=5), "state", vec)
    finally:
        vec.close()
    path = save_parameters(model, tmp_path / "ppo_state_64.zip")
    again = load_baseline(config, "state", path)
    assert all(torch.equal(a, b) for a, b in zip(model.policy.parameters(), again.policy.parameters()))


# --- the source never unpickles ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SB3_CLASSES = {"PPO", "A2C", "SAC", "TD3", "DQN", "DDPG", "HER", "BaseAlgorithm"}
PICKLERS = {"pickle", "cPickle", "cloudpickle", "dill", "joblib", "_pickle"}


def unpickling_calls(source: str, name: str) -> list[str]:
    """Where source loads pickles: pickle.load(s), an SB3 class's .load, torch.load without
    weights_only=True, allow_pickle=True, SB3's load_from_zip_file / load_from_pkl, pandas' read_pickle."""
    import ast

    found = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attr = node.value.id, node.attr
            if owner in PICKLERS and attr in ("load", "loads", "Unpickler"):
                found.append(f"{where}: {owner}.{attr}")
            if owner in SB3_CLASSES and attr == "load":
                found.append(f"{where}: {owner}.load")
        if isinstance(node, (ast.Attribute, ast.Name)):
            ident = node.attr if isinstance(node, ast.Attribute) else node.id
            if ident in ("load_from_zip_file", "load_from_pkl", "read_pickle"):
                found.append(f"{where}: {ident}")
        if isinstance(node, ast.ImportFrom) and node.module in PICKLERS:
            found += [f"{where}: from {node.module} import {a.name}" for a in node.names if "load" in a.name.lower()
                      or a.name == "Unpickler"]
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle" and not (
                isinstance(node.value, ast.Constant) and node.value.value is False):
            found.append(f"{where}: allow_pickle={ast.unparse(node.value)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in ("torch", "th"):
            safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
            if not safe:
                found.append(f"{where}: torch.load without weights_only=True")
    return found


def test_the_checker_finds_each_kind_of_unpickling():
    bad = ("import pickle, torch, numpy as np\nfrom stable_baselines3 import PPO\n"
           "pickle.load(f)\npickle.loads(b)\nPPO.load('x')\ntorch.load('x')\ntorch.load('x', weights_only=False)\n"
           "np.load('x', allow_pickle=True)\nfrom cloudpickle import loads\n")
    assert len(unpickling_calls(bad, "bad.py")) == 7
    good = "import torch, numpy as np\ntorch.load('x', weights_only=True)\nnp.load('x', allow_pickle=False)\n"
    assert unpickling_calls(good, "good.py") == []


def test_no_source_file_unpickles():
    """agent/, envs/ and benchmarks/: nothing read from disk is ever unpickled (DESIGN.md)."""
    found = []
    for folder in ("agent", "envs", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found += unpickling_calls(path.read_text(), str(path.relative_to(ROOT)))
    assert found == [], "\n".join(found)
