import numpy as np
import pytest
import torch

from agent.perception.capsule_eval import (OBJECTS, discovery, label_shift, nearest_object, object_positions,
                                          project_objects)
from agent.perception.capsules import (CapsuleParser, CapsuleSpec, _presence_bias, load_parser, pose_from_params,
                                       save_parser, sparsity_losses)
from agent.weights import WeightsError
from envs.state_fields import STATE_FIELDS, STATE_SIZE

SPEC = CapsuleSpec(n_parts=5, n_objects=3, template_size=5, part_feature_dim=4, object_feature_dim=8,
                   channels=[8, 8], set_dim=16, set_heads=2, set_layers=1)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return CapsuleParser(SPEC)


def test_shapes(model):
    parts, objects = model.parse(torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8))
    assert parts.pose.shape == (2, 5, 3, 3) and parts.presence.shape == (2, 5) and parts.features.shape == (2, 5, 4)
    assert objects.pose.shape == (2, 3, 3, 3) and objects.presence.shape == (2, 3)
    assert objects.votes.shape == (2, 3, 5, 3, 3) and objects.vote_scale.min() > 0


def test_poses_are_bounded_and_invertible():
    pose = pose_from_params(torch.randn(100, 6) * 50)
    assert torch.isfinite(torch.linalg.inv(pose)).all()
    assert pose[:, :2, 2].abs().max() <= 1


def test_absent_parts_are_masked_out_of_attention(model):
    """An absent part (presence ~0) must not change the object capsules."""
    torch.manual_seed(1)
    parts, _ = model.parse(torch.rand(1, 3, 16, 16))
    presence = parts.presence.clone()
    presence[0, 0] = 0.0
    base = parts._replace(presence=presence)
    moved = base._replace(features=base.features.clone())
    moved.features[0, 0] += 100.0  # change only the absent part
    a, b = model.objects(base), model.objects(moved)
    assert torch.allclose(a.presence, b.presence, atol=1e-4)
    bias = _presence_bias(presence, heads=2, queries=4)
    assert bias.shape == (2, 4, 5) and bias[0, 0, 0] < -10


def test_sparsity_prefers_few_objects(model):
    parts, objects = model.parse(torch.rand(4, 3, 16, 16))
    post = torch.full((4, 5, 3), 1 / 3)
    few = objects._replace(presence=torch.tensor([[1.0, 0.0, 0.0]] * 4))
    many = objects._replace(presence=torch.ones(4, 3))
    prior_few, _ = sparsity_losses(few, post, parts.presence, expected=1.0)
    prior_many, _ = sparsity_losses(many, post, parts.presence, expected=1.0)
    assert prior_few < prior_many
    # posterior sparsity: each part sure of its object, and the objects shared out, beats indecision
    sure = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1]), 3).float().expand(4, -1, -1)
    uniform = torch.ones(4, 5)
    assert sparsity_losses(objects, sure, uniform, 1.0)[1] < sparsity_losses(objects, post, uniform, 1.0)[1] - 0.5


def test_a_few_steps_lower_the_loss(model):
    torch.manual_seed(0)
    images = torch.zeros(8, 3, 16, 16)
    images[:, 0, 4:9, 4:9] = 1.0  # a red square on black, in every image
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss, _ = model(images)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_no_nan_on_edge_inputs(model):
    for images in (torch.zeros(2, 3, 16, 16), torch.ones(2, 3, 16, 16), torch.rand(1, 3, 16, 16)):
        loss, out = model(images)
        assert torch.isfinite(loss)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        model.zero_grad()
    # all parts absent
    parts, _ = model.parse(torch.rand(2, 3, 16, 16))
    objects = model.objects(parts._replace(presence=torch.zeros_like(parts.presence)))
    assert all(torch.isfinite(t).all() for t in objects)


def test_save_load_identical_outputs(model, tmp_path):
    model.eval()
    save_parser(model, tmp_path)
    loaded = load_parser(tmp_path)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(model.parse(x)[1].presence, loaded.parse(x)[1].presence)
    (tmp_path / "capsules.safetensors").write_bytes(b"truncated")
    with pytest.raises(WeightsError, match="capsules.safetensors"):
        load_parser(tmp_path)


def test_ground_truth_projection_and_discovery():
    state = np.zeros((1, STATE_SIZE), dtype=np.float32)
    state[0, STATE_FIELDS["block_red_position"]] = [0.45, -0.05, 0.02]
    state[0, STATE_FIELDS["block_green_position"]] = [0.5, 0.0, 0.02]
    state[0, STATE_FIELDS["block_blue_position"]] = [0.4, -0.1, 0.02]
    state[0, STATE_FIELDS["ee_position"]] = [0.5, 0.0, 0.2]
    world = object_positions(state)
    gaze = np.array([[0.0, 0.0, -1.0]], dtype=np.float32)
    pos, visible = project_objects(world, gaze, 32)
    assert visible[0, OBJECTS.index("red")] and visible[0, OBJECTS.index("button")]
    # capsules placed exactly on the visible objects are all found, consistently
    m = int(visible.sum())
    pose = np.zeros((1, m, 6))
    pose[0, :, 2], pose[0, :, 5] = pos[0, visible[0], 0], pos[0, visible[0], 1]
    places = pos[:, visible[0]]
    parsed = {"presence": np.ones((1, m)), "present": np.ones((1, m)), "position": places, "pose": pose,
              "features": np.zeros((1, m, 2))}
    result = discovery(parsed, pos, visible)
    assert result["objects_found"] == 1.0 and result["capsule_consistency"] == 1.0
    assert result["objects_found_by_pose_translation"] == 1.0  # the readout before places, same poses
    # capsules that explain no part are not present, wherever their pose points
    result = discovery({**parsed, "present": np.zeros((1, m))}, pos, visible)
    assert result["objects_found"] == 0.0
    looked_at = nearest_object(world, np.array([[-0.34, 0.0, 0.0]]))  # gaze point x = 0.448, y = 0
    assert OBJECTS[looked_at[0]] in ("red", "green", "blue")


def test_label_shift_is_total_variation():
    assert label_shift(np.array([0, 1]), np.array([1, 0])) == 0.0
    assert label_shift(np.array([0, 0]), np.array([1, 1])) == 1.0
    assert label_shift(np.array([0, 1]), np.array([0, 0])) == 0.5
