"""Commands in a row in one scene (CALVIN chains): begin_task starts a task from the scene as it is."""

import pytest

from envs.tasks import Task, why_not_offered


def test_begin_task_refuses_what_the_scene_cannot_do_and_changes_nothing(make_env):
    env = make_env(obs_mode="state", task="open_drawer")
    env.reset(seed=0)
    state, steps = env.state(), env.steps
    assert why_not_offered(Task("close_drawer"), state) == "the drawer is already closed"
    with pytest.raises(ValueError, match="already closed"):
        env.begin_task("close_drawer")
    assert env.state() == state and env.steps == steps and env.task == Task("open_drawer")


def test_a_chain_judges_each_task_from_where_it_began(make_env):
    from envs.expert import ScriptedExpert

    env = make_env(obs_mode="state", task="open_drawer", terminate_on_success=False)
    env.reset(seed=0)
    for name in ("open_drawer", "close_drawer"):
        env.begin_task(name)
        expert = ScriptedExpert(Task.parse(name))
        for _ in range(150):
            *_, info = env.step(expert.act(env.privileged()))
            if info["is_success"]:
                break
        assert info["is_success"], name
