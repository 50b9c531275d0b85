import numpy as np
import pytest

from agent.perception.memory import DESK_Z, SceneMemory
from envs.eye import Gaze, fovea_camera, periphery_camera


def _seen_at(world, gaze, size=32, stream="periphery"):
    camera = (fovea_camera if stream == "fovea" else periphery_camera)(gaze, size)
    x, y, front = camera.normalised(world)
    assert front
    return np.array([[x, y]])


def test_unproject_inverts_project():
    gaze = Gaze(0.3, -0.2, 0.0)
    world = np.array([0.5, -0.1, DESK_Z])
    cam = periphery_camera(gaze, 32)
    x, y, _ = cam.normalised(world)
    assert np.allclose(cam.unproject(x, y, DESK_Z), world, atol=1e-6)


@pytest.mark.parametrize("stream", ["periphery", "fovea"])
def test_one_object_seen_from_two_gazes_is_one_memory_entry(stream):
    memory = SceneMemory()
    world = np.array([0.45, 0.0, DESK_Z])
    feature = np.array([1.0, 0.0, 0.5])
    looks = {"periphery": (Gaze(-0.5, -0.5, 0.0), Gaze(0.5, 0.5, 0.0)),
             "fovea": (Gaze.looking_at(world + [0.01, 0.0, 0.0], 1.0), Gaze.looking_at(world - [0.0, 0.01, 0.0], 2.0))}
    for gaze in looks[stream]:
        memory.update(_seen_at(world, gaze, stream=stream), np.array([0.9]), feature[None], gaze, 32, stream)
    assert len(memory.entries) == 1
    assert memory.entries[0].seen == 2
    assert np.allclose(memory.positions()[0], world, atol=1e-6)


def test_different_objects_stay_apart_and_fade():
    memory = SceneMemory(decay=0.5, forget_below=0.2)
    gaze = Gaze()
    a, b = np.array([0.4, -0.1, DESK_Z]), np.array([0.6, 0.1, DESK_Z])
    positions = np.concatenate([_seen_at(a, gaze), _seen_at(b, gaze)])
    memory.update(positions, np.array([0.9, 0.9]), np.eye(2), gaze, 32)
    assert len(memory.entries) == 2
    for _ in range(3):  # nothing seen: memories fade away
        memory.update(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2)), gaze, 32)
    assert not memory.entries
