"""Render one picture of the desk with the gaze marked and the retina insets: docs/desk.png.

    python demos/desk_picture.py --seed 3 --out docs/desk.png
"""

from __future__ import annotations

import argparse

import imageio.v2 as imageio
import numpy as np

from agent.video import annotate
from envs import DeskEnv, Task
from envs.expert import ScriptedExpert
from envs.eye import Gaze


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--task", default="take_block_out:blue")
    parser.add_argument("--steps", type=int, default=30, help="expert steps before the picture")
    parser.add_argument("--out", default="docs/desk.png")
    args = parser.parse_args()

    task = Task.parse(args.task)
    env = DeskEnv(task=task.name, active_gaze=True, fovea_size=64, periphery_size=64)
    env.reset(seed=args.seed)
    expert = ScriptedExpert(task)
    obs = None
    for _ in range(args.steps):
        state = env.privileged()
        gaze = Gaze.looking_at(expert.look_at(state), zoom=2.0)
        obs = env.step(np.concatenate([expert.act(state), gaze.as_array()]).astype(np.float32))[0]
    camera = env.eye.frame_camera(640, 480)
    picture = annotate(
        env.eye.render(camera),
        gaze_px=camera.project(env.gaze.point()),
        gaze_radius_px=env.eye.fovea_radius_px(env.gaze, camera),
        fovea=obs["fovea"],
        periphery=obs["periphery"],
        title=f"task {task.name}, step {args.steps}",
        subtitle=None,
    )
    imageio.imwrite(args.out, picture)
    env.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
