import pytest

from agent.evaluation import run_expert_episode
from envs.tasks import ALL_TASKS


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_expert_solves_task(make_env, task):
    env = make_env(obs_mode="state")
    for seed in (0, 1):
        success, steps = run_expert_episode(env, task, seed)
        assert success, f"{task.name} failed on seed {seed} after {steps} steps"
