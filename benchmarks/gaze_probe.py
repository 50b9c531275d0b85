"""Can the frozen encoder tell where the task's object sits relative to the gaze? A probe for the
deictic student (issue 23) and for perception that keeps positions (issue 25).

    python benchmarks/gaze_probe.py [--episodes 360] [--out benchmarks/results/gaze_probe.json]

The Markov teacher runs the desk with noise on its arm and on its gaze (std drawn per episode up to
0.15, as the demonstrations do); every third step keeps the fovea, the gaze and the target: the
teacher's look-at point minus the gaze point, in cm (privileged: a label for this probe only). An
MLP (256x256, 3000 steps) reads the gaze and the task (one-hot) with one of: the encoder's pooled
features (what the agent reads), or spatial soft-argmax keypoints (x, y per channel) of the
encoder's conv maps after block 1 (16x16), 2 (8x8) or 3 (4x4). Error on 20% held-out rows.
Layouts from agent.seeds.GAZE_PROBE_SEED_BASE (20,000,000).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch



def record(episodes: int) -> dict[str, np.ndarray]:
    from agent.seeds import GAZE_PROBE_SEED_BASE
    from envs.config import DeskConfig
    from envs.desk_env import DeskEnv
    from envs.eye import Gaze
    from envs.tasks import ALL_TASKS
    from envs.teacher import MarkovTeacher

    env = DeskEnv(DeskConfig(obs_mode="glimpse", active_gaze=True, terminate_on_success=False,
                             max_episode_steps=10 ** 6))
    rng = np.random.default_rng(0)
    rows: dict[str, list] = {"fovea": [], "gaze": [], "target": [], "task": []}
    try:
        for ep in range(episodes):
            task = ALL_TASKS[ep % len(ALL_TASKS)]
            env.reset(seed=GAZE_PROBE_SEED_BASE + ep, options={"task": task})
            teacher = MarkovTeacher(task)
            gaze_noise = rng.uniform(0, 0.15)
            for t in range(50):
                s = env.privileged()
                gaze = np.clip(Gaze.looking_at(teacher.look_at(s), zoom=2.0).as_array() + rng.normal(0, gaze_noise, 3),
                               -1, 1)
                arm = np.clip(teacher.act(s) + rng.normal(0, 0.2, 4), -1, 1)
                obs, *_ = env.step(np.concatenate([arm, gaze]).astype(np.float32))
                if t % 3 == 0:
                    rows["fovea"].append(obs["fovea"])
                    rows["gaze"].append(obs["gaze"])
                    look = teacher.look_at(env.privileged())
                    rows["target"].append(100 * (look[:2] - Gaze.from_array(obs["gaze"]).point()[:2]))
                    rows["task"].append(ep % len(ALL_TASKS))
    finally:
        env.close()
    return {k: np.stack(v) for k, v in rows.items()}


def soft_argmax(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 2C): the expected x and y of each channel under a softmax over its map."""
    b, c, h, w = maps.shape
    p = torch.softmax(maps.flatten(2), -1).view(b, c, h, w)
    xs, ys = torch.linspace(-1, 1, w), torch.linspace(-1, 1, h)
    return torch.cat([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], 1)


@torch.no_grad()
def readouts(encoder, fovea: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list] = {"pooled": [], "keypoints_block1": [], "keypoints_block2": [], "keypoints_block3": []}
    for i in range(0, len(fovea), 512):
        images = torch.from_numpy(fovea[i:i + 512])
        out["pooled"].append(encoder(images).numpy())
        x = encoder.prepare(images) - 0.5
        for k, block in enumerate(encoder.convs, 1):
            x = block(x)
            out[f"keypoints_block{k}"].append(soft_argmax(x).numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def probe(x: np.ndarray, data: dict, train: np.ndarray, test: np.ndarray) -> dict:
    task = np.eye(18)[data["task"]]
    x = np.concatenate([x, data["gaze"], task], 1).astype(np.float32)
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3
    x = torch.from_numpy((x - mean) / std)
    y = torch.from_numpy(data["target"].astype(np.float32))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 2))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        rows = torch.from_numpy(rng.choice(train, 256))
        loss = ((net(x[rows]) - y[rows]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = (net(x[test]) - y[test]).norm(dim=1).numpy()
    return {"median_cm": round(float(np.median(err)), 2), "within_1cm": round(float(np.mean(err < 1)), 3),
            "within_2cm": round(float(np.mean(err < 2)), 3), "inputs": int(x.shape[1])}


def main() -> None:
    from agent.perception.encoder import load_encoder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=360)
    ap.add_argument("--encoder", default="agent/shipped/encoder")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = record(args.episodes)
    encoder = load_encoder(args.encoder).eval()
    order = np.random.default_rng(0).permutation(len(data["gaze"]))
    train, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)):]
    still = np.linalg.norm(data["target"][test], axis=1)
    result = {"command": f"python benchmarks/gaze_probe.py --episodes {args.episodes}", "rows": len(order),
              "gaze_as_is": {"median_cm": round(float(np.median(still)), 2),
                             "within_2cm": round(float(np.mean(still < 2)), 3)}}
    for name, x in readouts(encoder, data["fovea"]).items():
        result[name] = probe(x, data, train, test)
        print(name, result[name], flush=True)
    result["wall_time_s"] = round(time.perf_counter() - t0, 1)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
