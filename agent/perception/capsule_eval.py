"""`saccade eval capsules`: object discovery, viewpoint generalisation and throughput of the capsule parser.

Labels (where the objects really are) are used here only. Ground-truth objects are
projected into each peripheral view with the known gaze and camera; object capsules
are matched to them by position (Hungarian matching). Occlusion is ignored: an
object inside the field of view counts as visible.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from agent.config import RunConfig, save_config
from agent.data.format import PlayData
from agent.perception.capsule_training import train_capsules
from agent.perception.capsules import CapsuleParser, load_parser, pose_vector
from agent.perception.encoder import EncoderSpec, GlimpseEncoder
from agent.weights import WeightsError
from agent.perception.stream import split_chunks
from envs import assets as A
from envs.eye import Gaze, fovea_camera, periphery_camera
from envs.scene import COLOURS, drawer_world_x
from envs.state_fields import block_position, field
from agent.runs import RunLayout

log = logging.getLogger(__name__)

OBJECTS = ("drawer", "handle", "button", "lamp", "red", "green", "blue", "gripper")
MATCH_DISTANCE = 0.2  # normalised image units (the view is 2 wide)
PRESENT = 0.5
NEAR_GAZE = 0.08  # metres: the object nearest the gaze, if this close, is what the eye looks at
# Viewpoints: how far the eye zooms in, in normalised gaze zoom (-1: widest fovea, 1: most magnified).
# Zoom, not where the eye looks: the play data draws the zoom apart from the gaze point, so both
# ranges see the same objects and only the viewpoint changes (splitting by gaze x instead changed
# which objects were near the gaze, and that label shift swamped the test).
VIEW_AXIS = 2  # index of zoom in the gaze vector (x, y, zoom)
TRAIN_VIEWS = (-1.0, -0.1)
UNSEEN_VIEWS = (0.3, 1.0)


def object_positions(state: np.ndarray) -> np.ndarray:
    """(N, 8, 3) world positions of the objects from the privileged state vectors (N, STATE_SIZE)."""
    n = len(state)
    out = np.zeros((n, len(OBJECTS), 3))
    front = drawer_world_x(field(state, "drawer"))
    out[:, 0] = np.stack([front + A.DRAWER_LENGTH / 2, np.full(n, A.CABINET_Y), np.full(n, 0.05)], 1)
    out[:, 1] = np.stack([front + A.HANDLE_X, np.full(n, A.CABINET_Y), np.full(n, A.HANDLE_Z)], 1)
    out[:, 2] = [*A.BUTTON_XY, A.BUTTON_CAP_TOP]
    out[:, 3] = [*A.LAMP_XY, A.LAMP_HEIGHT]
    for colour in COLOURS:
        out[:, OBJECTS.index(colour)] = block_position(state, colour)
    out[:, OBJECTS.index("gripper")] = field(state, "ee_position")
    return out


def project_objects(world: np.ndarray, gaze: np.ndarray, size: int,
                    stream: str = "periphery") -> tuple[np.ndarray, np.ndarray]:
    """Normalised image positions (N, 8, 2) in the peripheral (or foveal) view and visibility (N, 8)."""
    make = periphery_camera if stream == "periphery" else fovea_camera
    pos = np.zeros(world.shape[:2] + (2,))
    visible = np.zeros(world.shape[:2], dtype=bool)
    for i in range(len(world)):
        camera = make(Gaze.from_array(gaze[i]), size)
        for j in range(world.shape[1]):
            x, y, front = camera.normalised(world[i, j])
            pos[i, j] = x, y
            visible[i, j] = front and abs(x) < 1 and abs(y) < 1
    return pos, visible


def load_glimpses(data: PlayData, chunk_ids: list[int], max_samples: int, seed: int) -> dict[str, np.ndarray]:
    keys = ("episode", "fovea", "periphery", "gaze", "state")
    arrays = data.read(chunk_ids, keys)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(arrays["episode"]), size=min(max_samples, len(arrays["episode"])), replace=False))
    out = {k: v[keep] for k, v in arrays.items()}
    out["world"] = object_positions(out["state"])
    return out


@torch.no_grad()
def parse_all(model: CapsuleParser, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
    model.eval()
    pres, pose, feats = [], [], []
    for i in range(0, len(images), batch):
        _, objects = model.parse(torch.from_numpy(images[i:i + batch]))
        pres.append(objects.presence.numpy())
        pose.append(pose_vector(objects.pose).numpy())
        feats.append(objects.features.numpy())
    return {"presence": np.concatenate(pres), "pose": np.concatenate(pose), "features": np.concatenate(feats)}


def discovery(parsed: dict, gt_pos: np.ndarray, visible: np.ndarray, seed: int = 0) -> dict:
    """Hungarian matching of present object capsules to visible objects in each view.

    objects_found_by_chance is the same matching with every present capsule moved to a uniformly
    random place in the view: what as many capsules would find without looking.
    """
    capsule_xy = parsed["pose"][:, :, [2, 5]]  # translations (x, y)
    found, seen, matches = _match(parsed["presence"], capsule_xy, gt_pos, visible)
    random_xy = np.random.default_rng(seed).uniform(-1, 1, capsule_xy.shape)
    chance, _, _ = _match(parsed["presence"], random_xy, gt_pos, visible)
    m = parsed["presence"].shape[1]
    used = matches.sum(1)
    share = np.where(used > 0, matches.max(1) / np.maximum(used, 1), 0.0)
    active = used >= max(5, 0.01 * len(gt_pos))
    return {
        "objects_found": float(found.sum() / max(seen.sum(), 1)),
        "objects_found_by_chance": float(chance.sum() / max(seen.sum(), 1)),
        "objects_found_per_object": {o: round(float(f / max(s, 1)), 3) for o, f, s in zip(OBJECTS, found, seen)},
        "capsule_consistency": float((share * used).sum() / max(used.sum(), 1)),
        "consistent_capsules": float(np.mean(share[active] >= 0.8)) if active.any() else 0.0,
        "capsule_main_object": {f"capsule_{k}": (OBJECTS[int(matches[k].argmax())] if used[k] else None)
                                for k in range(m)},
        "present_capsules_per_view": float((parsed["presence"] > PRESENT).sum(1).mean()),
    }


def _match(presence: np.ndarray, capsule_xy: np.ndarray, gt_pos: np.ndarray, visible: np.ndarray):
    """Per object: views where a present capsule matched it, views where it was visible; and the
    (capsule, object) match counts."""
    m = presence.shape[1]
    found = np.zeros(len(OBJECTS))
    seen = np.zeros(len(OBJECTS))
    matches = np.zeros((m, len(OBJECTS)))
    for i in range(len(gt_pos)):
        objs = np.flatnonzero(visible[i])
        caps = np.flatnonzero(presence[i] > PRESENT)
        seen[objs] += 1
        if len(objs) == 0 or len(caps) == 0:
            continue
        cost = np.linalg.norm(capsule_xy[i, caps][:, None] - gt_pos[i, objs][None], axis=-1)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            if cost[r, c] < MATCH_DISTANCE:
                found[objs[c]] += 1
                matches[caps[r], objs[c]] += 1
    return found, seen, matches


def capsule_vector(parsed: dict) -> np.ndarray:
    return np.concatenate([parsed["presence"][..., None], parsed["pose"], parsed["features"]], -1).reshape(
        len(parsed["presence"]), -1)


def position_readout(train_parsed, train_world, test_parsed, test_world) -> dict:
    """Linear (ridge) readout of every object's world position from the capsules' presences and poses."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def poses(p):
        return np.concatenate([p["presence"][..., None], p["pose"]], -1).reshape(len(p["presence"]), -1)

    y_train = train_world.reshape(len(train_world), -1)
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(poses(train_parsed), y_train)
    pred = model.predict(poses(test_parsed)).reshape(test_world.shape)
    err = np.linalg.norm(pred - test_world, axis=-1).mean(0)
    baseline = np.linalg.norm(train_world.mean(0, keepdims=True) - test_world, axis=-1).mean(0)
    return {"position_error_m": round(float(err.mean()), 4),
            "position_error_m_per_object": {o: round(float(e), 4) for o, e in zip(OBJECTS, err)},
            "mean_position_baseline_error_m": round(float(baseline.mean()), 4)}


def nearest_object(world: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    """Index of the object the eye looks at (nearest the gaze point), or -1 if none is near."""
    points = np.stack([Gaze.from_array(g).point() for g in gaze])
    d = np.linalg.norm(world[..., :2] - points[:, None, :2], axis=-1)
    label = d.argmin(1)
    return np.where(d.min(1) < NEAR_GAZE, label, -1)


def _in_views(gaze: np.ndarray, views: tuple[float, float]) -> np.ndarray:
    return (gaze[:, VIEW_AXIS] >= views[0]) & (gaze[:, VIEW_AXIS] <= views[1])


def label_shift(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the label distributions of two sets (0: same, 1: disjoint)."""
    pa = np.bincount(a, minlength=len(OBJECTS)) / max(len(a), 1)
    pb = np.bincount(b, minlength=len(OBJECTS)) / max(len(b), 1)
    return float(0.5 * np.abs(pa - pb).sum())


def _cnn_identifier(images, labels, steps: int, seed: int, channels: list[int]) -> GlimpseEncoder:
    """The comparison: a small CNN trained end to end to name the object at the gaze."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cnn = GlimpseEncoder(EncoderSpec(channels, 32))
    head = torch.nn.Linear(32, len(OBJECTS))
    opt = torch.optim.Adam([*cnn.parameters(), *head.parameters()], lr=1e-3)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    for _ in range(steps):
        idx = torch.from_numpy(rng.integers(len(x), size=64))
        loss = torch.nn.functional.cross_entropy(head(cnn(x[idx])), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    cnn.eval()
    cnn.head = head
    return cnn


@torch.no_grad()
def _cnn_accuracy(cnn, images, labels) -> float:
    logits = torch.cat([cnn.head(cnn(torch.from_numpy(images[i:i + 512]))) for i in range(0, len(images), 512)])
    return float((logits.argmax(1).numpy() == labels).mean())


def viewpoint_generalisation(config: RunConfig, run_dir: Path, train: dict, test: dict, progress: bool) -> dict:
    """Train parser and CNN on one range of viewpoints; compare their accuracy on an unseen range."""
    cfg = config.capsules
    folder = run_dir / "capsules_train_zoom"  # the parser of the training viewpoints
    try:
        parser = load_parser(folder)
    except WeightsError:
        restricted = replace(config, capsules=replace(cfg, steps=cfg.viewpoint_steps))
        resume = (folder / "checkpoints" / "latest").exists()
        train_capsules(restricted, RunLayout(run_dir).collect, folder, resume=resume, progress=progress,
                       chunk_filter=lambda gaze: _in_views(gaze, TRAIN_VIEWS))
        parser = load_parser(folder)
    y_train, y_test = nearest_object(train["world"], train["gaze"]), nearest_object(test["world"], test["gaze"])
    tr = (y_train >= 0) & _in_views(train["gaze"], TRAIN_VIEWS)
    seen = (y_test >= 0) & _in_views(test["gaze"], TRAIN_VIEWS)
    unseen = (y_test >= 0) & _in_views(test["gaze"], UNSEEN_VIEWS)
    if len(np.unique(y_train[tr])) < 2 or not seen.any() or not unseen.any():
        return {"error": "too few labelled glimpses in the viewpoint ranges; raise capsules.eval_samples",
                "samples": {"train": int(tr.sum()), "test_seen_views": int(seen.sum()),
                            "test_unseen_views": int(unseen.sum())}}
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def caps(images):
        return capsule_vector(parse_all(parser, images))

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.5))
    probe.fit(caps(train["fovea"][tr]), y_train[tr])
    cap_seen = float(np.mean(probe.predict(caps(test["fovea"][seen])) == y_test[seen]))
    cap_unseen = float(np.mean(probe.predict(caps(test["fovea"][unseen])) == y_test[unseen]))
    cnn = _cnn_identifier(train["fovea"][tr], y_train[tr], cfg.viewpoint_steps, config.seed, list(cfg.channels))
    cnn_seen = _cnn_accuracy(cnn, test["fovea"][seen], y_test[seen])
    cnn_unseen = _cnn_accuracy(cnn, test["fovea"][unseen], y_test[unseen])
    params = {"capsule_parser": sum(p.numel() for p in parser.parameters()),
              "cnn": sum(p.numel() for p in cnn.parameters())}  # the head is a submodule of cnn
    majority = np.bincount(y_train[tr]).argmax()  # the most common object in the training views
    return {
        "task": "name the object nearest the gaze from the foveal glimpse",
        "train_views_zoom": TRAIN_VIEWS, "unseen_views_zoom": UNSEEN_VIEWS,
        "samples": {"train": int(tr.sum()), "test_seen_views": int(seen.sum()), "test_unseen_views": int(unseen.sum())},
        "label_shift_seen_to_unseen": round(label_shift(y_test[seen], y_test[unseen]), 3),
        "majority_baseline": {"seen_views": round(float(np.mean(y_test[seen] == majority)), 3),
                              "unseen_views": round(float(np.mean(y_test[unseen] == majority)), 3)},
        "capsules": {"seen_views": round(cap_seen, 3), "unseen_views": round(cap_unseen, 3),
                     "drop": round(cap_seen - cap_unseen, 3)},
        "cnn": {"seen_views": round(cnn_seen, 3), "unseen_views": round(cnn_unseen, 3),
                "drop": round(cnn_seen - cnn_unseen, 3)},
        "parameters": params,
        "capsules_drop_smaller": (cap_seen - cap_unseen) < (cnn_seen - cnn_unseen),
    }


def throughput(model: CapsuleParser, size: int) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for batch in (1, 64):
            x = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8)
            with torch.no_grad():
                model.parse(x)
                n, start = 0, time.perf_counter()
                while time.perf_counter() - start < 1.0:
                    model.parse(x)
                    n += 1
            out[f"batch_{batch}_parses_per_s"] = round(batch * n / (time.perf_counter() - start), 1)
    finally:
        torch.set_num_threads(threads)
    out["threads"] = 1
    return out


def evaluate_capsules(config: RunConfig, run_dir: str | Path, *, progress: bool = False) -> dict:
    run_dir = Path(run_dir)
    start = time.perf_counter()
    model = load_parser(RunLayout(run_dir).capsules)
    data = PlayData(RunLayout(run_dir).collect)
    train_ids, test_ids = split_chunks(len(data), config.split.test_fraction)
    n = config.capsules.eval_samples
    train = load_glimpses(data, train_ids, n, config.seed)
    test = load_glimpses(data, test_ids, n, config.seed + 1)
    size = test["periphery"].shape[1]
    gt_pos, visible = project_objects(test["world"], test["gaze"], size)
    parsed_test = parse_all(model, test["periphery"])
    metrics = {"discovery": discovery(parsed_test, gt_pos, visible, config.seed)}
    # In the fovea objects are several times larger; discovery there is reported as well.
    fovea_pos, fovea_visible = project_objects(test["world"], test["gaze"], test["fovea"].shape[1], "fovea")
    metrics["discovery_fovea"] = discovery(parse_all(model, test["fovea"]), fovea_pos, fovea_visible, config.seed)
    metrics["readout"] = position_readout(parse_all(model, train["periphery"]), train["world"], parsed_test,
                                          test["world"])
    metrics["viewpoint"] = viewpoint_generalisation(config, run_dir, train, test, progress)
    metrics["throughput"] = throughput(model, size)
    metrics["test_views"] = len(test["episode"])
    metrics["wall_time_s"] = round(time.perf_counter() - start, 1)
    out_dir = RunLayout(run_dir).eval("capsules")
    out_dir.mkdir(parents=True, exist_ok=True)
    from agent.perception.capsule_pictures import save_reconstruction_grid

    metrics["pictures"] = str(save_reconstruction_grid(model, test["periphery"][:8], out_dir / "reconstructions.png"))
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    save_config(config, out_dir / "config.yaml")
    return metrics


def format_capsule_metrics(m: dict) -> str:
    d, r, v, t = m["discovery"], m["readout"], m["viewpoint"], m["throughput"]
    if "error" in v:
        v = {"capsules": {"drop": float("nan")}, "cnn": {"drop": float("nan")}, "capsules_drop_smaller": False}
    f = m["discovery_fovea"]
    return "\n".join([
        f"fovea: objects found {f['objects_found'] * 100:.1f}% (by chance {f['objects_found_by_chance'] * 100:.1f}%), "
        f"capsule consistency {f['capsule_consistency'] * 100:.1f}%",
        f"periphery: objects found: {d['objects_found'] * 100:.1f}% (by chance {d['objects_found_by_chance'] * 100:.1f}%)"
        f"  capsule consistency: {d['capsule_consistency'] * 100:.1f}%  "
        f"consistent capsules: {d['consistent_capsules'] * 100:.1f}%",
        f"position readout error: {r['position_error_m']:.3f} m (predicting the mean: {r['mean_position_baseline_error_m']:.3f} m)",
        f"viewpoint drop: capsules {v['capsules']['drop'] * 100:.1f} points, CNN {v['cnn']['drop'] * 100:.1f} points "
        f"({'capsules smaller' if v['capsules_drop_smaller'] else 'capsules NOT smaller'})",
        f"throughput (1 core): batch 1 {t['batch_1_parses_per_s']}/s, batch 64 {t['batch_64_parses_per_s']}/s",
    ])
