import pytest

from envs.expert import ScriptedExpert
from envs.narration import NarrationLabeller, event_text
from envs.scene import BlockState, SceneState
from envs.tasks import ALL_TASKS


def _events(env, task, seed):
    env.reset(seed=seed, options={"task": task})
    expert, labeller = ScriptedExpert(task), NarrationLabeller()
    labeller.reset(env.state())
    events = []
    for _ in range(env.config.max_episode_steps):
        _, _, terminated, truncated, _ = env.step(expert.act(env.privileged()))
        event = labeller.update(env.state())
        if event and (not events or events[-1] != event):
            events.append(event)
        if terminated or truncated:
            break
    return events


@pytest.mark.parametrize("task", [t for t in ALL_TASKS if t.block in (None, "red")], ids=lambda t: t.name)
def test_labeller_narrates_expert_episode(make_env, task):
    events = _events(make_env(obs_mode="state"), task, seed=2)
    assert event_text(task) in events
    if task.id == "put_block_in_drawer":  # the pick-up comes first, then the carrying
        assert events == [f"picking up the {task.block} block", event_text(task)]
    else:
        assert events == [event_text(task)]


def _state(drawer=0.0, depth=0.0, touches=(), red=(0.4, -0.05, 0.02), held=False, on_table=True, in_drawer=False):
    b = BlockState(red, on_table, in_drawer, held)
    other = BlockState((0.5, -0.15, 0.02), True, False, False)
    return SceneState(drawer, depth, False, {"red": b, "green": other, "blue": other}, frozenset(touches))


def test_no_event_when_nothing_happens():
    lab = NarrationLabeller()
    lab.reset(_state())
    assert lab.update(_state()) is None


def test_drawer_moving_without_the_gripper_is_not_an_event():
    lab = NarrationLabeller()
    lab.reset(_state(drawer=0.0))
    assert lab.update(_state(drawer=0.02)) is None
    assert lab.update(_state(drawer=0.04, touches={"drawer"})) is None  # one step of evidence is not enough
    assert lab.update(_state(drawer=0.06, touches={"drawer"})) == "opening the drawer"
    assert lab.update(_state(drawer=0.04, touches={"drawer"})) == "opening the drawer"  # until confirmed
    assert lab.update(_state(drawer=0.02, touches={"drawer"})) == "closing the drawer"


def test_a_single_step_blip_is_not_an_event():
    lab = NarrationLabeller()
    lab.reset(_state())
    assert lab.update(_state(red=(0.4, -0.04, 0.02), touches={"red"})) is None
    for _ in range(6):
        assert lab.update(_state(red=(0.4, -0.04, 0.02))) is None
    # evidence again, long after the blip: counts as the first step of a new event
    assert lab.update(_state(red=(0.4, -0.03, 0.02), touches={"red"})) is None


def test_event_survives_a_short_gap_then_ends():
    lab = NarrationLabeller()
    lab.reset(_state())
    assert lab.update(_state(depth=0.005, touches={"button"})) is None
    assert lab.update(_state(depth=0.006, touches={"button"})) == "pressing the button"
    assert lab.update(_state()) == "pressing the button"
    for _ in range(5):
        last = lab.update(_state())
    assert last is None


def test_pushing_direction():
    lab = NarrationLabeller()
    lab.reset(_state(red=(0.4, -0.05, 0.02)))
    lab.update(_state(red=(0.4, -0.04, 0.02), touches={"red"}))
    assert lab.update(_state(red=(0.4, -0.03, 0.02), touches={"red"})) == "pushing the red block to the left"
    lab.update(_state(red=(0.4, -0.05, 0.02), touches={"red"}))
    assert lab.update(_state(red=(0.4, -0.07, 0.02), touches={"red"})) == "pushing the red block to the right"


def test_update_before_reset_is_an_error():
    with pytest.raises(RuntimeError):
        NarrationLabeller().update(_state())


def test_event_text_for_every_task_is_distinct():
    texts = [event_text(t) for t in ALL_TASKS]
    assert len(set(texts)) == len(texts)
    assert all(t.split()[0].endswith("ing") for t in texts)
