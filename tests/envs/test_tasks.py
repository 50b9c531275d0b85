import pytest

from envs.scene import BlockState, SceneState
from envs.tasks import ALL_TASKS, TASK_IDS, Task, is_offered, is_success, offered_tasks

TABLE_Z = 0.02


def block(x=0.45, y=-0.05, z=TABLE_Z, on_table=True, in_drawer=False, held=False):
    return BlockState((x, y, z), on_table, in_drawer, held)


def scene(drawer=0.0, lamp=False, red=None, green=None, blue=None, touches=()):
    blocks = {
        "red": red or block(0.40, -0.05),
        "green": green or block(0.50, -0.15),
        "blue": blue or block(0.52, 0.03),
    }
    return SceneState(drawer, 0.0, lamp, blocks, frozenset(touches))


def test_task_names_round_trip():
    for task in ALL_TASKS:
        assert Task.parse(task.name) == task
    assert {t.id for t in ALL_TASKS} == set(TASK_IDS)


@pytest.mark.parametrize("bad", ["fly", "lift_block", "open_drawer:red", "lift_block:purple", ""])
def test_bad_task_names_are_named(bad):
    with pytest.raises(ValueError):
        Task.parse(bad)


def test_open_and_close_drawer():
    closed, open_ = scene(drawer=0.01), scene(drawer=0.15)
    assert is_success(Task("open_drawer"), closed, open_)
    assert not is_success(Task("open_drawer"), closed, scene(drawer=0.05))
    assert is_success(Task("close_drawer"), open_, closed)
    assert not is_success(Task("close_drawer"), open_, scene(drawer=0.12))
    assert is_offered(Task("open_drawer"), closed) and not is_offered(Task("open_drawer"), open_)
    assert is_offered(Task("close_drawer"), open_) and not is_offered(Task("close_drawer"), closed)


def test_press_button_toggles_lamp():
    assert is_success(Task("press_button"), scene(lamp=False), scene(lamp=True))
    assert is_success(Task("press_button"), scene(lamp=True), scene(lamp=False))
    assert not is_success(Task("press_button"), scene(lamp=True), scene(lamp=True))


def test_lift_block():
    t = Task("lift_block", "red")
    start = scene()
    assert is_success(t, start, scene(red=block(0.40, -0.05, 0.10, on_table=False, held=True)))
    assert not is_success(t, start, scene(red=block(0.40, -0.05, 0.04, on_table=False, held=True)))
    assert not is_success(t, start, scene(red=block(0.40, -0.05, 0.10, on_table=True)))  # e.g. stacked, still touching
    assert not is_offered(t, scene(red=block(on_table=False, in_drawer=True)))


def test_push_block_left_and_right():
    left, right = Task("push_block_left", "red"), Task("push_block_right", "red")
    start = scene(red=block(0.40, -0.10))
    assert is_success(left, start, scene(red=block(0.40, 0.00)))
    assert not is_success(left, start, scene(red=block(0.40, -0.05)))
    assert not is_success(left, start, scene(red=block(0.40, 0.00, on_table=False, held=True)))
    assert is_success(right, scene(red=block(0.40, 0.0)), scene(red=block(0.40, -0.10)))
    assert not is_success(right, start, scene(red=block(0.40, 0.00)))


def test_push_not_offered_when_the_path_is_blocked_or_off_the_table():
    blocked = scene(red=block(0.40, -0.10), green=block(0.41, -0.03))
    assert not is_offered(Task("push_block_left", "red"), blocked)
    assert not is_offered(Task("push_block_left", "red"), scene(red=block(0.40, 0.03)))
    assert not is_offered(Task("push_block_right", "red"), scene(red=block(0.40, -0.17)))


def test_put_block_in_drawer_and_take_it_out():
    put, take = Task("put_block_in_drawer", "blue"), Task("take_block_out", "blue")
    inside = block(0.55, 0.28, 0.04, on_table=False, in_drawer=True)
    on_table = scene(drawer=0.15)
    assert is_offered(put, on_table) and not is_offered(take, on_table)
    assert is_success(put, on_table, scene(drawer=0.15, blue=inside))
    assert not is_success(put, on_table, scene(drawer=0.15, blue=block(0.55, 0.28, 0.1, on_table=False, held=True)))
    start = scene(drawer=0.15, blue=inside)
    assert is_offered(take, start) and not is_offered(put, start)
    assert is_success(take, start, scene(drawer=0.15))
    assert not is_success(take, start, scene(drawer=0.15, blue=block(0.5, 0.2, 0.1, on_table=False, held=True)))
    # a closed drawer hides what is inside
    assert not is_offered(take, scene(drawer=0.0, blue=inside))
    assert not is_offered(put, scene(drawer=0.0))


def test_every_task_is_offered_in_some_layout(make_env):
    env = make_env(obs_mode="state")
    seen = set()
    for seed in range(40):
        env.reset(seed=seed)
        seen |= set(offered_tasks(env.start_state))
    assert seen == set(ALL_TASKS)


def test_fixed_task_is_always_offered(make_env):
    env = make_env(obs_mode="state", task="take_block_out:green")
    for seed in range(5):
        _, info = env.reset(seed=seed)
        assert info["task"] == "take_block_out:green"
        assert env.start_state.blocks["green"].in_drawer
