"""The Markov teacher: its label is a function of the state and the task alone, and it carries out
every task from rest and from where another command left the scene."""

import numpy as np
import pytest

from envs.tasks import ALL_TASKS, Task, offered_tasks
from envs.teacher import MarkovTeacher


def _run(env, task, max_steps=120, noise=0.0, rng=None):
    teacher = MarkovTeacher(task, max_step=env.config.max_step)
    for t in range(max_steps):
        a = teacher.act(env.privileged())
        if noise:
            a = np.clip(a + rng.normal(0, noise, 4), -1, 1).astype(np.float32)
        *_, info = env.step(a)
        if info["is_success"]:
            return True, t + 1
    return False, max_steps


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_teacher_solves_task_from_rest(make_env, task):
    env = make_env(obs_mode="state", terminate_on_success=False)
    for seed in (3, 4):
        env.reset(seed=seed, options={"task": task})
        ok, steps = _run(env, task)
        assert ok, f"{task.name} failed on seed {seed} after {steps} steps"


def test_teacher_label_depends_on_the_state_alone(make_env):
    """A teacher that has run for a while and a fresh one give the same label in the same state,
    and so does the same teacher asked twice: no timers, no memory."""
    env = make_env(obs_mode="state", terminate_on_success=False)
    task = Task.parse("put_block_in_drawer:red")
    env.reset(seed=1, options={"task": task})
    used = MarkovTeacher(task)
    for _ in range(40):  # past the grasp: the phase now comes from the state
        state = env.privileged()
        label = used.act(state)
        assert np.array_equal(label, MarkovTeacher(task).act(state))
        assert np.array_equal(label, used.act(state))
        assert np.array_equal(used.look_at(state), MarkovTeacher(task).look_at(state))
        env.step(label)
    assert used.phase in ("lift", "carry", "lower", "release")


def test_teacher_does_a_second_command_where_the_first_left_the_scene(make_env):
    env = make_env(obs_mode="state", terminate_on_success=False)
    rng = np.random.default_rng(0)
    done = 0
    for seed in range(6):
        env.reset(seed=100 + seed)
        offered = offered_tasks(env.state())
        first = offered[int(rng.integers(len(offered)))]
        env.begin_task(first)
        _run(env, first)
        offered = offered_tasks(env.state())
        second = offered[int(rng.integers(len(offered)))]
        env.begin_task(second)
        ok, _ = _run(env, second)
        done += ok
    assert done == 6


def test_teacher_lets_a_held_down_button_up_before_pressing_it(make_env):
    env = make_env(obs_mode="state", terminate_on_success=False)
    task = Task.parse("press_button")
    env.reset(seed=0, options={"task": task})
    assert _run(env, task)[0]
    env.begin_task(task)  # the hand still holds the button down: a second press must let it up first
    assert _run(env, task)[0]
