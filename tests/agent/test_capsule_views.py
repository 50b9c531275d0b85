"""Capsules that find objects: places, the equivariance and identity terms, pairs, Slot Attention."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from agent.perception import capsule_eval
from agent.perception.capsule_eval import OBJECTS, discovery, object_positions, project_objects
from agent.perception.capsule_views import carry
from agent.perception.capsules import (CapsuleParser, CapsuleSpec, ObjectPlaces, equivariance_error, identity_loss,
                                       map_points)
from agent.perception.slots import SlotAttention, SlotSpec, load_slots, save_slots

COLOURS = np.array([[220, 40, 40], [40, 200, 60], [50, 70, 220]], np.uint8)


def coloured_squares(n: int, rng: np.random.Generator, size: int = 32):
    """Grey images with a red, a green and a blue square at random places; their centres, normalised."""
    images = np.full((n, size, size, 3), 150, np.uint8)
    centres = np.zeros((n, len(COLOURS), 2))
    for i in range(n):
        for j, colour in enumerate(COLOURS):
            side = rng.integers(6, 10)
            x, y = rng.integers(0, size - side, 2)
            images[i, y:y + side, x:x + side] = colour
            centres[i, j] = ((x + side / 2) / size * 2 - 1, (y + side / 2) / size * 2 - 1)
    return images, centres, np.ones((n, len(COLOURS)), bool)


def _places(position, present):
    position = torch.as_tensor(position, dtype=torch.float32)
    return ObjectPlaces(position, torch.ones(position.shape[:2]), torch.as_tensor(present, dtype=torch.float32))


def test_equivariance_term_is_zero_for_the_exact_transform_and_positive_otherwise():
    torch.manual_seed(0)
    first = _places(torch.rand(4, 3, 2) * 0.6 - 0.3, torch.ones(4, 3))
    angle = 0.3
    transform = torch.tensor([[1.5 * np.cos(angle), -1.5 * np.sin(angle), 0.1],
                              [1.5 * np.sin(angle), 1.5 * np.cos(angle), -0.2]], dtype=torch.float32).expand(4, -1, -1)
    exact = _places(map_points(transform, first.position), torch.ones(4, 3))
    assert equivariance_error(first, exact, transform).item() == pytest.approx(0.0, abs=1e-10)
    off = _places(exact.position + 0.05, torch.ones(4, 3))
    assert equivariance_error(first, off, transform).item() > 1e-3
    # objects absent in either view, or carried outside the second view, do not count
    absent = _places(exact.position + 0.05, torch.zeros(4, 3))
    assert equivariance_error(first, absent, transform).item() == pytest.approx(0.0, abs=1e-10)
    far = torch.tensor([[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]]).expand(4, -1, -1)
    assert equivariance_error(first, off, far).item() == pytest.approx(0.0, abs=1e-10)


def test_identity_loss_prefers_the_same_capsule_in_both_views():
    torch.manual_seed(0)
    model = CapsuleParser(CapsuleSpec(n_parts=4, n_objects=3, template_size=5, part_feature_dim=4,
                                      object_feature_dim=8, channels=[8, 8], set_dim=16, set_heads=2, set_layers=1))
    _, objects = model.parse(torch.rand(4, 3, 16, 16))
    objects = objects._replace(presence=torch.ones(4, 3))
    same = identity_loss(objects, objects)
    shuffled = identity_loss(objects, objects._replace(features=objects.features.roll(1, dims=1)))
    assert same < shuffled
    # weighed by other presences (capsules.identity_weighting: places): a capsule absent in either
    # view does not count, whatever its own presence
    distinct = objects._replace(features=torch.eye(12).reshape(4, 3, 12))  # every capsule its own direction
    only_first = (torch.tensor([[1.0, 0.0, 0.0]]).expand(4, 3), torch.ones(4, 3))
    wrong_elsewhere = distinct._replace(features=torch.cat([distinct.features[:, :1],
                                                            distinct.features[:, 1:].roll(1, dims=0)], 1))
    assert identity_loss(distinct, wrong_elsewhere, presence=only_first) < identity_loss(distinct, wrong_elsewhere)
    nobody = (torch.zeros(4, 3), torch.ones(4, 3))
    assert identity_loss(distinct, wrong_elsewhere, presence=nobody) == 0


def test_pairs_of_one_scene_show_the_same_objects_where_the_transform_says(tiny_config_path, tmp_path):
    from agent.config import load_config
    from agent.perception.pairs import load_pairs, record_pairs

    tiny = load_config(tiny_config_path)
    config = replace(tiny, capsules=replace(tiny.capsules, pair_scenes=3, pairs_per_scene=4))
    summary = record_pairs(config, tmp_path / "train.npz", "train")
    pairs = load_pairs(tmp_path / "train.npz")
    assert summary["pairs"] == 12 and pairs["fovea_first"].shape == (12, 16, 16, 3)
    # one frozen state per scene: every pair of a scene stores the same state
    for start in range(0, 12, 4):
        assert (pairs["state"][start:start + 4] == pairs["state"][start]).all()
    world = object_positions(pairs["state"])
    for stream in ("fovea", "periphery"):
        a, seen_a = project_objects(world, pairs["gaze_first"], 16, stream)
        b, seen_b = project_objects(world, pairs["gaze_second"], 16, stream)
        carried = carry(pairs[f"{stream}_transform"], a)
        both = seen_a & seen_b
        assert both.any()
        # blocks on the desk lie on the plane of the transform (an affine fit: up to a few hundredths
        # across the wide periphery); lifted blocks and taller things (lamp, cabinet) only near it
        blocks = both.copy()
        blocks[:, [i for i, o in enumerate(OBJECTS) if o not in ("red", "green", "blue")]] = False
        error = np.linalg.norm(carried - b, axis=-1)
        if blocks.any():
            assert np.median(error[blocks]) < 0.05 and error[blocks].max() < 0.1
        assert np.median(error[both]) < 0.1
    # the two views of a pair are different glimpses of that scene
    assert (pairs["fovea_first"] != pairs["fovea_second"]).any()


def test_capsules_discover_coloured_squares_well_above_chance(monkeypatch):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    spec = CapsuleSpec(n_parts=8, n_objects=4, template_size=7, channels=[16, 32], set_dim=32, expected_objects=3)
    model = CapsuleParser(spec)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(800):  # discovery takes off after about 400 steps (59% at 600)
        images, _, _ = coloured_squares(32, rng)
        loss, _ = model(torch.from_numpy(images))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    images, centres, visible = coloured_squares(300, np.random.default_rng(1))
    monkeypatch.setattr(capsule_eval, "OBJECTS", ("red", "green", "blue"))
    found = discovery(capsule_eval.parse_all(model, images), centres, visible)
    assert found["objects_found"] > 3 * found["objects_found_by_chance"]
    assert found["objects_found"] > found["objects_found_at_fixed_places"] + 0.1
    assert found["objects_found"] > 0.3


def test_slot_attention_masks_share_out_the_image_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = SlotAttention(SlotSpec(slots=3, dim=16, image_size=16))
    images = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8)
    _, out = model(images, torch.Generator().manual_seed(0))
    assert out["reconstruction"].shape == (2, 3, 16, 16)
    assert torch.allclose(out["masks"].sum(1), torch.ones(2, 16, 16), atol=1e-5)
    places = model.places(images, torch.Generator().manual_seed(0))
    assert places["position"].shape == (2, 3, 2) and places["position"].abs().max() <= 1
    save_slots(model, tmp_path)
    again = load_slots(tmp_path).places(images, torch.Generator().manual_seed(0))
    assert torch.equal(places["position"], again["position"])


def test_a_cached_model_trained_with_other_settings_is_refused(tmp_path, tiny_config_path):
    from agent.config import load_config
    from agent.perception.capsule_training import check_cached, training_settings
    from agent.perception.capsules import save_parser
    from agent.weights import WeightsError

    config = load_config(tiny_config_path)
    model = CapsuleParser(config.capsules.spec())
    save_parser(model, tmp_path, {"capsules_config": training_settings(config)})
    check_cached(tmp_path, "capsules", config)  # the same settings: reused
    # evaluation-only settings do not matter; training settings do, and are named
    check_cached(tmp_path, "capsules", replace(config, capsules=replace(config.capsules, eval_samples=7)))
    with pytest.raises(WeightsError, match="pair_saccade"):
        check_cached(tmp_path, "capsules", replace(config, capsules=replace(config.capsules, pair_saccade=0.1)))
