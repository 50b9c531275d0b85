"""The PyBullet desk: a Franka Panda, a drawer, a button with a lamp, three blocks, and an eye.

Importing `envs` registers the Gymnasium ids but does not load PyBullet: the learning
stages read the desk's geometry and tasks on machines without a simulator.
"""

from gymnasium.envs.registration import register

from envs.config import DeskConfig
from envs.tasks import ALL_TASKS, TASK_IDS, Task

# Every id is registered here, in one place.
ENV_SPECS = {
    "saccade/Desk-v0": {"obs_mode": "glimpse"},  # fixed gaze at the middle of the desk
    "saccade/DeskActive-v0": {"obs_mode": "glimpse", "active_gaze": True},  # the policy points the eye
    "saccade/DeskState-v0": {"obs_mode": "state"},  # privileged state, no rendering
    "saccade/DeskFrame-v0": {"obs_mode": "frame"},  # 84x84 full frames
}
ENV_IDS = tuple(ENV_SPECS)

for _env_id, _kwargs in ENV_SPECS.items():
    register(id=_env_id, entry_point="envs.desk_env:DeskEnv", kwargs=dict(_kwargs))


def __getattr__(name: str):
    if name == "DeskEnv":  # loads PyBullet
        from envs.desk_env import DeskEnv

        return DeskEnv
    raise AttributeError(f"module 'envs' has no attribute {name!r}")


__all__ = ["ALL_TASKS", "ENV_IDS", "TASK_IDS", "DeskConfig", "DeskEnv", "Task"]
