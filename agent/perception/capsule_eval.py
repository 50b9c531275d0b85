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
from agent.perception.capsule_training import check_cached, train_capsules
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
    """Object capsules of many glimpses: presence, pose, features, and the place (agent.perception.
    capsules.ObjectPlaces) where each is, with the presence of an object that explains parts."""
    model.eval()
    out: dict[str, list] = {k: [] for k in ("presence", "pose", "features", "position", "present")}
    for i in range(0, len(images), batch):
        objects, places = model.places(torch.from_numpy(images[i:i + batch]))
        out["presence"].append(objects.presence.numpy())
        out["pose"].append(pose_vector(objects.pose).numpy())
        out["features"].append(objects.features.numpy())
        out["position"].append(places.position.numpy())
        out["present"].append(places.present.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def discovery(parsed: dict, gt_pos: np.ndarray, visible: np.ndarray, seed: int = 0) -> dict:
    """Hungarian matching of present object capsules to visible objects in each view.

    objects_found_by_chance is the same matching with every present capsule moved to a uniformly
    random place in the view: what as many capsules would find without looking.
    objects_found_at_fixed_places puts each capsule at its average place instead.
    """
    capsule_xy, presence = parsed["position"], parsed["present"]
    found, seen, matches = _match(presence, capsule_xy, gt_pos, visible)
    random_xy = np.random.default_rng(seed).uniform(-1, 1, capsule_xy.shape)
    chance, _, _ = _match(presence, random_xy, gt_pos, visible)
    # A stronger blind baseline: every capsule at its own average place, wherever the objects are.
    # The eye looks at objects, so objects crowd the middle of the fovea; this catches a parser
    # whose capsules merely sit there.
    on = presence > PRESENT
    mean_xy = (capsule_xy * on[..., None]).sum(0) / np.maximum(on.sum(0), 1)[:, None]
    fixed, _, _ = _match(presence, np.broadcast_to(mean_xy, capsule_xy.shape), gt_pos, visible)
    m = presence.shape[1]
    used = matches.sum(1)
    share = np.where(used > 0, matches.max(1) / np.maximum(used, 1), 0.0)
    active = used >= max(5, 0.01 * len(gt_pos))
    out = {
        "objects_found": float(found.sum() / max(seen.sum(), 1)),
        "objects_found_by_chance": float(chance.sum() / max(seen.sum(), 1)),
        "objects_found_at_fixed_places": float(fixed.sum() / max(seen.sum(), 1)),
        "objects_found_per_object": {o: round(float(f / max(s, 1)), 3) for o, f, s in zip(OBJECTS, found, seen)},
        "capsule_consistency": float((share * used).sum() / max(used.sum(), 1)),
        "consistent_capsules": float(np.mean(share[active] >= 0.8)) if active.any() else 0.0,
        "capsule_main_object": {f"capsule_{k}": (OBJECTS[int(matches[k].argmax())] if used[k] else None)
                                for k in range(m)},
        "present_capsules_per_view": float((presence > PRESENT).sum(1).mean()),
    }
    if "pose" in parsed:  # the readout before issue 14: the object-to-viewer pose's own translation
        by_pose, _, _ = _match(parsed["presence"], parsed["pose"][:, :, [2, 5]], gt_pos, visible)
        out["objects_found_by_pose_translation"] = float(by_pose.sum() / max(seen.sum(), 1))
    return out


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
    return np.concatenate([parsed["presence"][..., None], parsed["present"][..., None], parsed["position"],
                           parsed["pose"], parsed["features"]], -1).reshape(len(parsed["presence"]), -1)


def central_slot_vector(places: dict) -> np.ndarray:
    """Slots have no fixed order: the features and place of the present slot nearest the middle."""
    d = np.linalg.norm(places["position"], axis=-1) + 10.0 * (places["present"] < PRESENT)
    pick = d.argmin(1)
    rows = np.arange(len(pick))
    return np.concatenate([places["features"][rows, pick], places["position"][rows, pick]], -1)


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
    restricted = replace(config, capsules=replace(cfg, steps=cfg.viewpoint_steps))
    try:
        parser = load_parser(folder)
        check_cached(folder, "capsules", restricted)
    except WeightsError as error:
        if (folder / "capsules.json").exists():
            raise error
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
    from agent.perception.slot_training import trained_slots

    slots = trained_slots(config, RunLayout(run_dir).collect, run_dir / "slots_train_zoom", cfg.slot_steps,
                          progress=progress, chunk_filter=lambda gaze: _in_views(gaze, TRAIN_VIEWS))

    def slot_vector(images):
        return central_slot_vector(slot_places(slots, images, config.seed))

    slot_probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.5))
    slot_probe.fit(slot_vector(train["fovea"][tr]), y_train[tr])
    slot_seen = float(np.mean(slot_probe.predict(slot_vector(test["fovea"][seen])) == y_test[seen]))
    slot_unseen = float(np.mean(slot_probe.predict(slot_vector(test["fovea"][unseen])) == y_test[unseen]))
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
        "slot_attention": {"seen_views": round(slot_seen, 3), "unseen_views": round(slot_unseen, 3),
                           "drop": round(slot_seen - slot_unseen, 3)},
        "parameters": {**params, "slot_attention": sum(p.numel() for p in slots.parameters())},
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


def discovery_both(parse, test: dict, seed: int) -> dict:
    """Object discovery in the periphery and in the fovea; `parse(images)` gives places (parse_all)."""
    out = {}
    for stream, key in (("periphery", "discovery"), ("fovea", "discovery_fovea")):
        pos, visible = project_objects(test["world"], test["gaze"], test[stream].shape[1], stream)
        out[key] = discovery(parse(test[stream]), pos, visible, seed)
    return out


@torch.no_grad()
def slot_places(model, images: np.ndarray, seed: int, batch: int = 256) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)  # the slots' initial noise: same seed, same places
    parts = [model.places(torch.from_numpy(images[i:i + batch]), gen) for i in range(0, len(images), batch)]
    return {k: np.concatenate([p[k].numpy() for p in parts]) for k in ("position", "present", "features")}


def seed_spread(config: RunConfig, run_dir: Path, test: dict, first: dict, progress: bool) -> dict:
    """Discovery of parsers trained with seeds seed+1.. (in run_dir/capsules_seeds), beside the run's own."""
    runs = {config.seed: first}
    for k in range(1, config.capsules.eval_seeds):
        seed = config.seed + k
        folder = run_dir / "capsules_seeds" / f"seed_{seed}"
        try:
            parser = load_parser(folder)
            check_cached(folder, "capsules", replace(config, seed=seed))
        except WeightsError as error:
            if (folder / "capsules.json").exists():
                raise error  # trained with other settings, or damaged: said, not silently replaced
            resume = (folder / "checkpoints" / "latest").exists()
            train_capsules(replace(config, seed=seed), RunLayout(run_dir).collect, folder, resume=resume,
                           progress=progress, test_pairs=False)
            parser = load_parser(folder)
        runs[seed] = discovery_both(lambda images, model=parser: parse_all(model, images), test, config.seed)
    out: dict = {"seeds": list(runs)}
    for key, name in (("discovery_fovea", "fovea"), ("discovery", "periphery")):
        found = [r[key]["objects_found"] for r in runs.values()]
        chance = [r[key]["objects_found_by_chance"] for r in runs.values()]
        out[name] = {"objects_found": [round(f, 4) for f in found], "by_chance": [round(c, 4) for c in chance],
                     "median": round(float(np.median(found)), 4), "spread": round(float(np.ptp(found)), 4),
                     "median_by_chance": round(float(np.median(chance)), 4),
                     "consistency": [round(r[key]["capsule_consistency"], 4) for r in runs.values()]}
    return out


def in_agent(config: RunConfig, run_dir: Path, out_dir: Path, progress: bool) -> dict:
    """What the capsule scene memory adds to the attention policy's scene estimate, for the run's
    parser and its seeds (agent.attention.capsule_memory). It needs the run's attention stage."""
    from agent.attention.capsule_memory import scene_with_capsules

    run = RunLayout(run_dir)
    if not (run.attention / "attention.json").exists():
        return {"scene_estimate": None, "note": "no attention stage in this run: `saccade train attention` first"}
    from agent.integrity import verify_stage

    verify_stage(run.attention)
    parsers = {config.seed: run.capsules}
    parsers.update({config.seed + k: run_dir / "capsules_seeds" / f"seed_{config.seed + k}"
                    for k in range(1, config.capsules.eval_seeds)})  # trained by seed_spread
    try:
        return {"scene_estimate": scene_with_capsules(config, run, parsers, out_dir / "capsule_bank",
                                                      progress=progress)}
    except WeightsError as e:  # a damaged or foreign bank: said, and the other figures are kept
        return {"scene_estimate": None, "error": str(e)}


def test_pairs(config: RunConfig, run_dir: Path, out_dir: Path, progress: bool) -> dict:
    """The held-out pairs the capsules stage recorded, or (a parser trained without pairs) recorded here."""
    from agent.integrity import check_near
    from agent.perception.pairs import load_pairs, record_pairs

    stage_pairs = RunLayout(run_dir).capsules / "pairs" / "test.npz"
    if stage_pairs.exists():
        check_near(stage_pairs)  # against the capsules stage's manifest: a changed file is refused
        pairs = load_pairs(stage_pairs)
        if pairs is None:
            raise WeightsError(f"{stage_pairs} cannot be read: run `saccade train capsules` again into a fresh "
                               "run folder")
        return pairs
    path = out_dir / "pairs_test.npz"
    pairs = load_pairs(path)
    if pairs is None:
        record_pairs(config, path, "test", progress=progress)
        pairs = load_pairs(path)
    return pairs


def evaluate_capsules(config: RunConfig, run_dir: str | Path, *, progress: bool = False) -> dict:
    from agent.perception.capsule_views import equivariance, memory_positions
    from agent.perception.slot_training import trained_slots

    run_dir = Path(run_dir)
    start = time.perf_counter()
    cfg = config.capsules
    model = load_parser(RunLayout(run_dir).capsules)
    data = PlayData(RunLayout(run_dir).collect)
    train_ids, test_ids = split_chunks(len(data), config.split.test_fraction)
    n = cfg.eval_samples
    train = load_glimpses(data, train_ids, n, config.seed)
    test = load_glimpses(data, test_ids, n, config.seed + 1)
    out_dir = RunLayout(run_dir).eval("capsules")
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = discovery_both(lambda images: parse_all(model, images), test, config.seed)
    metrics["readout"] = position_readout(parse_all(model, train["periphery"]), train["world"],
                                          parse_all(model, test["periphery"]), test["world"])
    pairs = test_pairs(config, run_dir, out_dir, progress)
    metrics["equivariance"] = equivariance(model, pairs)
    metrics["scene_memory"] = memory_positions(model, pairs, train["world"])
    slots = trained_slots(config, RunLayout(run_dir).collect, run_dir / "slots", cfg.slot_steps, progress=progress)
    metrics["slot_attention"] = discovery_both(lambda images: slot_places(slots, images, config.seed), test,
                                               config.seed)
    metrics["seeds"] = seed_spread(config, run_dir, test, metrics, progress)
    metrics["viewpoint"] = viewpoint_generalisation(config, run_dir, train, test, progress)
    metrics["in_agent"] = in_agent(config, run_dir, out_dir, progress)
    metrics["throughput"] = throughput(model, test["periphery"].shape[1])
    metrics["test_views"] = len(test["episode"])
    metrics["wall_time_s"] = round(time.perf_counter() - start, 1)
    from agent.perception.capsule_pictures import save_reconstruction_grid

    metrics["pictures"] = str(save_reconstruction_grid(model, test["fovea"][:8], out_dir / "reconstructions.png"))
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    save_config(config, out_dir / "config.yaml")
    return metrics


def format_capsule_metrics(m: dict) -> str:
    r, v, t = m["readout"], m["viewpoint"], m["throughput"]
    seeds, slots, mem = m["seeds"], m["slot_attention"], m["scene_memory"]
    lines = []
    for name, key in (("fovea", "discovery_fovea"), ("periphery", "discovery")):
        s, sl = seeds[name], slots[key]
        lines.append(f"{name}: objects found {m[key]['objects_found'] * 100:.1f}% (by chance "
                     f"{m[key]['objects_found_by_chance'] * 100:.1f}%); median of {len(seeds['seeds'])} seeds "
                     f"{s['median'] * 100:.1f}% (spread {s['spread'] * 100:.1f} points, chance "
                     f"{s['median_by_chance'] * 100:.1f}%); capsule consistency {m[key]['capsule_consistency'] * 100:.1f}%; "
                     f"Slot Attention {sl['objects_found'] * 100:.1f}% (chance {sl['objects_found_by_chance'] * 100:.1f}%)")
    for stream, e in m["equivariance"].items():
        if e.get("objects_compared"):
            lines.append(f"equivariance ({stream}, held-out pairs): {e['error']:.3f} (blind to the eye's motion: "
                         f"{e['error_if_blind_to_the_eye']:.3f}; same capsule nearest {e['same_capsule_nearest'] * 100:.1f}%)")
    if mem["block_error_m"] is not None:
        lines.append(f"scene memory ({mem['glimpses_per_scene']} glimpses): blocks located {mem['blocks_located'] * 100:.1f}%, "
                     f"error {mem['block_error_m']:.3f} m (answering the mean: {mem['mean_position_baseline_error_m']:.3f} m)")
    lines.append(f"position readout error: {r['position_error_m']:.3f} m (predicting the mean: "
                 f"{r['mean_position_baseline_error_m']:.3f} m)")
    if "error" not in v:
        lines.append(f"viewpoint drop (unseen zooms): capsules {v['capsules']['drop'] * 100:.1f} points, "
                     f"Slot Attention {v['slot_attention']['drop'] * 100:.1f}, CNN {v['cnn']['drop'] * 100:.1f}")
    scene = m.get("in_agent", {}).get("scene_estimate")
    if m.get("in_agent", {}).get("error"):
        lines.append(f"in the agent: not measured ({m['in_agent']['error']})")
    if scene:
        seeds = len(scene["parser_seeds"])
        for k in list(scene["summary"]["learned"])[-2:]:
            row = scene["summary"]["learned"][k]
            acc, within = row["scene_accuracy"], row["blocks_within_3cm"]
            lines.append(f"in the agent, scene estimate after {k} learned glimpses (test bank): "
                         f"{acc['without_capsules']:.3f} without the capsule memory, {acc['with_capsules_median']:.3f} "
                         f"with it (median of {seeds} parser seeds, spread {acc['with_capsules_spread']:.3f}); blocks "
                         f"within 3 cm {within['without_capsules'] * 100:.1f}% -> "
                         f"{within['with_capsules_median'] * 100:.1f}%")
        near = scene["detail"]["nearest_places"][str(scene["parser_seeds"][0])]["learned"]
        lines.append(f"  the memory holds a place within 3 cm of "
                     f"{near['blocks_with_a_place_within_3cm'] * 100:.1f}% of the "
                     f"blocks after {max(map(int, scene['summary']['learned']))} learned glimpses (median distance "
                     f"{near['median_distance_m']:.3f} m; seed {scene['parser_seeds'][0]})")
    lines.append(f"throughput (1 core): batch 1 {t['batch_1_parses_per_s']}/s, batch 64 {t['batch_64_parses_per_s']}/s")
    return "\n".join(lines)
