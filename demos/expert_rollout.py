"""The Gymnasium API of the desk, driven by the scripted expert.

    python demos/expert_rollout.py --task put_block_in_drawer:red --seed 0
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import envs  # noqa: F401  (registers the saccade/ ids)
from envs.expert import ScriptedExpert
from envs.narration import NarrationLabeller
from envs.tasks import Task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="put_block_in_drawer:red")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = gym.make("saccade/DeskState-v0", task=args.task)
    obs, info = env.reset(seed=args.seed)
    desk = env.unwrapped
    expert, labeller = ScriptedExpert(Task.parse(args.task)), NarrationLabeller()
    labeller.reset(desk.state())
    said = None
    for step in range(1, 151):
        obs, reward, terminated, truncated, info = env.step(expert.act(desk.privileged()))
        event = labeller.update(desk.state())
        if event and event != said:
            print(f"step {step:3d}: {event}")
        said = event
        if terminated or truncated:
            break
    print(f"{info['task']}: {'success' if info['is_success'] else 'failure'} after {step} steps")
    env.close()


if __name__ == "__main__":
    main()
