"""The narrator: a small GPT-2 decoder that says what the arm is doing, from what it saw.

The recent perception stream (frozen encoder features of the fovea and the periphery,
proprioception and the gaze, over the last `window` steps) becomes a few prefix embeddings; the
decoder, a transformers GPT-2 trained from scratch here, continues the prefix with the
narration text ("opening the drawer") or with "<none>" when nothing is happening. The
word-level tokenizer is built with `tokenizers` and saved beside the weights.

At run time a line is emitted when the narrated event changes to a new event, not
every step.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: the model is built from a config

import numpy as np
import torch
from torch import nn

from agent.perception.features import FEATURES, check_features
from agent.weights import WeightsError, building, load_weights, make_spec, read_model_config, save_model_files

NONE = "<none>"
SPECIALS = ["[PAD]", "[BOS]", "[EOS]", NONE]


@dataclass
class NarratorSpec:
    input_dim: int  # per-step perception features
    window: int = 8  # steps of perception the narrator sees
    prefix_tokens: int = 4
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    max_text_tokens: int = 12


def build_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for t in texts for w in t.split()} - set(SPECIALS))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=NONE))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer


class Narrator(nn.Module):
    def __init__(self, spec: NarratorSpec, tokenizer):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        self.spec = spec
        self.tokenizer = tokenizer
        self.pad, self.bos, self.eos = (tokenizer.token_to_id(t) for t in SPECIALS[:3])
        config = GPT2Config(vocab_size=tokenizer.get_vocab_size(), n_positions=spec.prefix_tokens + spec.max_text_tokens + 2,
                            n_embd=spec.n_embd, n_layer=spec.n_layer, n_head=spec.n_head,
                            bos_token_id=self.bos, eos_token_id=self.eos, pad_token_id=self.pad)
        self.gpt = GPT2LMHeadModel(config)
        self.norm = nn.LayerNorm(spec.input_dim)
        self.prefix = nn.Sequential(nn.Linear(spec.window * spec.input_dim, 256), nn.ReLU(),
                                    nn.Linear(256, spec.prefix_tokens * spec.n_embd))

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """[BOS] words [EOS], padded: (B, max_text_tokens + 2)."""
        n = self.spec.max_text_tokens + 2
        rows = []
        for text in texts:
            ids = [self.bos, *self.tokenizer.encode(text or NONE).ids[: n - 2], self.eos]
            rows.append(ids + [self.pad] * (n - len(ids)))
        return torch.tensor(rows)

    def _prefix(self, clips: torch.Tensor) -> torch.Tensor:
        b = clips.shape[0]
        return self.prefix(self.norm(clips).reshape(b, -1)).view(b, self.spec.prefix_tokens, self.spec.n_embd)

    def loss(self, clips: torch.Tensor, texts: list[str]) -> torch.Tensor:
        ids = self.encode_text(texts)
        embeds = torch.cat([self._prefix(clips), self.gpt.transformer.wte(ids)], 1)
        labels = torch.cat([torch.full((len(texts), self.spec.prefix_tokens), -100), ids], 1)
        labels[labels == self.pad] = -100
        labels[:, self.spec.prefix_tokens] = -100  # [BOS] is given, not predicted
        return self.gpt(inputs_embeds=embeds, labels=labels).loss

    @torch.no_grad()
    def generate(self, clips: torch.Tensor) -> list[str]:
        """Greedy decoding of the narration for each clip; "" when nothing is happening."""
        b = clips.shape[0]
        ids = torch.full((b, 1), self.bos)
        done = torch.zeros(b, dtype=torch.bool)
        prefix = self._prefix(clips)
        for _ in range(self.spec.max_text_tokens + 1):
            embeds = torch.cat([prefix, self.gpt.transformer.wte(ids)], 1)
            nxt = self.gpt(inputs_embeds=embeds).logits[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.eos), nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == self.eos
            if done.all():
                break
        texts = []
        for row in ids[:, 1:].tolist():
            words = []
            for i in row:
                if i == self.eos:
                    break
                words.append(self.tokenizer.id_to_token(i))
            text = " ".join(w for w in words if w not in SPECIALS)
            texts.append("" if NONE in words else text)
        return texts


def clip_indices(steps: np.ndarray, window: int) -> np.ndarray:
    """(N,) step-in-episode of each row (rows of an episode contiguous) -> (N, window) row indices of
    each step and the steps before it; the episode's first step stands in for steps before its start."""
    back = np.minimum(steps[:, None], np.arange(window - 1, -1, -1)[None])
    return np.arange(len(steps))[:, None] - back


class NarrationStream:
    """Run-time narration: feed one step's perception features (agent.perception.features) at a
    time; returns a line when a new event starts.

    Like the labeller, it changes what it says only when the narrator has said the new text on
    `confirm_steps` steps in a row, so that a one-step flicker ("putting the green block ...") is
    not spoken. This costs confirm_steps - 1 steps of delay on top of the narrator's own.
    """

    def __init__(self, narrator: Narrator, confirm_steps: int = 2):
        self.narrator = narrator
        self.confirm_steps = confirm_steps
        self.history: list[np.ndarray] = []
        self.current = ""  # what the stream is saying ("" while nothing happens)
        self.candidate, self.candidate_steps = "", 0

    def reset(self) -> None:
        self.history, self.current, self.candidate, self.candidate_steps = [], "", "", 0

    def step(self, feats: np.ndarray) -> str | None:
        self.history = (self.history or [feats] * self.narrator.spec.window)[1:] + [feats]
        return self.hear(self.narrator.generate(torch.from_numpy(np.stack(self.history))[None])[0])

    def hear(self, text: str) -> str | None:
        """One step's generated text -> the line to speak now, if a new event is confirmed."""
        if text == self.current:
            self.candidate_steps = 0
            return None
        self.candidate_steps = self.candidate_steps + 1 if text == self.candidate else 1
        self.candidate = text
        if self.candidate_steps < self.confirm_steps:
            return None
        self.current, self.candidate_steps = text, 0
        return text or None


def save_narrator(narrator: Narrator, folder: str | Path, extra: dict | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tokenizer.json.tmp"
    narrator.tokenizer.save(str(tmp))
    tmp.replace(folder / "tokenizer.json")
    # the weights and the JSON last: a folder with narrator.json holds a whole model
    return save_model_files(folder, "narrator", narrator, {"kind": "saccade.Narrator", "spec": asdict(narrator.spec),
                                                            "features": FEATURES, **(extra or {})})


def load_narrator(folder: str | Path) -> Narrator:
    from tokenizers import Tokenizer

    config = read_model_config(folder, "narrator", "saccade.Narrator", "saccade train language")
    check_features(config, Path(folder) / "narrator.json")
    try:
        tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    except Exception as e:
        raise WeightsError(f"{Path(folder) / 'tokenizer.json'}: not a readable tokenizer ({e})") from None
    spec = make_spec(NarratorSpec, config, Path(folder) / "narrator.json", "saccade train language")
    with building(Path(folder) / "narrator.json", "saccade train language"):
        narrator = Narrator(spec, tokenizer)
    return load_weights(narrator, Path(folder) / "narrator.safetensors")
