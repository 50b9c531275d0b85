"""`saccade eval encoder`: linear probes on frozen encoder features, scored on held-out episodes.

The probes are linear (logistic regression or ridge regression on standardised
features), trained on episodes from the training chunks and scored on episodes from
the held-out chunks that no encoder saw. Labels come from the privileged state and
the narration labeller, here and nowhere else.
"""

from __future__ import annotations

import numpy as np
import torch

from agent.data.format import PlayData
from agent.perception.encoder import GlimpseEncoder
from envs import assets as A
from envs.eye import Gaze
from envs.scene import COLOURS
from envs.state_fields import block_position, field

CLASSIFICATION_PROBES = ("drawer_open", "lamp_on", "nearest_block_to_gaze", "holding_block", "narration",
                         "block_position_bins")
REGRESSION_PROBES = ("drawer_opening",)
PROBES = CLASSIFICATION_PROBES + REGRESSION_PROBES
TEMPORAL_LAG = 3  # the narration probe also sees f(t) - f(t - lag): events are changes
BIN_X = np.linspace(0.30, 0.72, 4)
BIN_Y = np.linspace(-0.25, 0.40, 4)


def load_split(data: PlayData, chunk_ids: list[int], max_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Images, labels and the lagged row of each step, subsampled to max_samples steps."""
    keys = ("episode", "step", "fovea", "periphery", "gaze", "state", "narration")
    arrays = data.read(chunk_ids, keys)
    n = len(arrays["episode"])
    # the row of the same episode TEMPORAL_LAG steps earlier (or the episode's first row)
    lag = np.arange(n) - np.minimum(arrays["step"], TEMPORAL_LAG)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(n, size=min(n, max_samples), replace=False))
    out = {k: v[keep] for k, v in arrays.items()}
    out["fovea_lag"] = arrays["fovea"][lag[keep]]
    out["periphery_lag"] = arrays["periphery"][lag[keep]]
    out.update(labels(out))
    return out


def labels(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    state = split["state"]
    drawer, lamp = field(state, "drawer"), field(state, "lamp")
    blocks = np.stack([block_position(state, c) for c in COLOURS], axis=1)  # (N, 3, xyz)
    ee, finger = field(state, "ee_position"), field(state, "finger_width")
    gaze_xy = np.stack([Gaze.from_array(g).point()[:2] for g in split["gaze"]])
    near_ee = np.linalg.norm(blocks - ee[:, None, :], axis=-1).min(axis=1) < 0.025
    bx = np.clip(np.digitize(blocks[..., 0], BIN_X[1:-1]), 0, 2)
    by = np.clip(np.digitize(blocks[..., 1], BIN_Y[1:-1]), 0, 2)
    return {
        "drawer_open": (drawer > A.DRAWER_TRAVEL / 2).astype(np.int64),
        "drawer_opening": drawer.astype(np.float64),
        "lamp_on": (lamp > 0.5).astype(np.int64),
        "nearest_block_to_gaze": np.linalg.norm(blocks[..., :2] - gaze_xy[:, None], axis=-1).argmin(1),
        # a block between the fingertips while the gripper is closed on something block-sized
        "holding_block": (near_ee & (finger > 0.03) & (finger < 0.05)).astype(np.int64),
        "narration": split["narration"].astype(np.int64) + 1,  # 0: no event
        "block_position_bins": (bx * 3 + by),  # (N, 3): one 9-way label per block
    }


@torch.no_grad()
def features(encoder: GlimpseEncoder, images: np.ndarray, batch: int = 512) -> np.ndarray:
    encoder.eval()
    out = [encoder(torch.from_numpy(images[i:i + batch])).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float64)


def probe_features(encoder: GlimpseEncoder, split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    now = np.concatenate([features(encoder, split["fovea"]), features(encoder, split["periphery"])], axis=1)
    before = np.concatenate([features(encoder, split["fovea_lag"]), features(encoder, split["periphery_lag"])], axis=1)
    return {"static": now, "temporal": np.concatenate([now, now - before], axis=1)}


def _fit_score(kind: str, x_train, y_train, x_test, y_test) -> float:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "regression":
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(x_train, y_train)
        return 100.0 * float(r2_score(y_test, model.predict(x_test)))
    if len(np.unique(y_train)) < 2:
        return 100.0 * float(np.mean(y_test == y_train[0]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.5)).fit(x_train, y_train)
    return 100.0 * float(np.mean(model.predict(x_test) == y_test))


def run_probes(feats_train: dict, feats_test: dict, train: dict, test: dict) -> dict[str, float]:
    """Score of every probe, in points: accuracy (%) or, for the regression, R^2 x 100."""
    scores = {}
    for probe in PROBES:
        x_tr = feats_train["temporal" if probe == "narration" else "static"]
        x_te = feats_test["temporal" if probe == "narration" else "static"]
        if probe == "block_position_bins":
            scores[probe] = float(np.mean([
                _fit_score("classification", x_tr, train[probe][:, b], x_te, test[probe][:, b]) for b in range(3)
            ]))
        else:
            kind = "regression" if probe in REGRESSION_PROBES else "classification"
            scores[probe] = _fit_score(kind, x_tr, train[probe], x_te, test[probe])
    return scores


def majority_scores(train: dict, test: dict) -> dict[str, float]:
    """What always answering the most common training label scores: the floor."""
    out = {}
    for probe in CLASSIFICATION_PROBES:
        y_tr, y_te = train[probe], test[probe]
        if y_tr.ndim == 2:
            out[probe] = float(np.mean([100 * np.mean(y_te[:, b] == np.bincount(y_tr[:, b]).argmax()) for b in range(3)]))
        else:
            out[probe] = 100.0 * float(np.mean(y_te == np.bincount(y_tr).argmax()))
    out["drawer_opening"] = 0.0
    return out
