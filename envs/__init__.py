"""The PyBullet desk: a Franka Panda, a drawer, a button with a lamp, three blocks, and an eye."""

from gymnasium.envs.registration import register

from envs.desk_env import DeskConfig, DeskEnv
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

__all__ = ["ALL_TASKS", "ENV_IDS", "TASK_IDS", "DeskConfig", "DeskEnv", "Task"]
