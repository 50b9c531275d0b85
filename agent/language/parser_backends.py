"""The command parser's two task classifiers. Each maps a command's task text to probabilities over
the 8 task ids and a ninth, reject class, and to its similarity to the training phrasings.

* "minilm": the shared frozen MiniLM sentence embedding (agent/language/embedding.py) and a linear head
  trained on the training phrasings and NEGATIVE_TRAIN, with classes weighted by inverse frequency.
* "scratch": a word-level tokenizer (tokenizers) and a 2-layer BertModel trained from scratch on the
  same examples, with some words replaced by [UNK] during training so that it copes with words it
  never saw.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from agent.language.embedding import MINILM_PACKAGE, embed_text
from agent.weights import WeightsError
from envs.tasks import TASK_IDS

REJECT = len(TASK_IDS)  # the classifier's label for "not a desk task"
N_CLASSES = len(TASK_IDS) + 1


def _nearest(bank: torch.Tensor, labels: torch.Tensor, feature: torch.Tensor, label: int) -> float:
    """Cosine similarity of a (unit) feature to the nearest (unit) training feature of one label."""
    return float((bank[labels == label] @ feature).max())


def _class_weights(labels: torch.Tensor) -> torch.Tensor:
    """Inverse class frequencies, mean 1: the reject class has more examples than any task, and an
    unweighted loss would let it swallow unseen wordings of the tasks."""
    counts = torch.bincount(labels, minlength=N_CLASSES).float().clamp(min=1)
    return counts.sum() / (N_CLASSES * counts)


def _task_probs(logits: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Softmax over the tasks and the reject class -> (probabilities of the tasks, of "reject")."""
    probs = torch.softmax(logits, -1)
    return probs[:REJECT], float(probs[REJECT])


class MiniLMBackend:
    name = "minilm"

    def __init__(self, head: nn.Linear, bank: torch.Tensor, labels: torch.Tensor):
        self.head, self.bank, self.labels = head.eval(), bank, labels

    def features(self, text: str) -> torch.Tensor:
        return embed_text(text)

    def classify(self, text: str) -> tuple[torch.Tensor, float, float]:
        f = self.features(text)
        with torch.no_grad():
            probs, reject = _task_probs(self.head(f))
        return probs, reject, _nearest(self.bank, self.labels, f, int(probs.argmax()))

    @classmethod
    def train(cls, examples: list[tuple[str, int]], seed: int) -> MiniLMBackend:
        bank = torch.stack([embed_text(text) for text, _ in examples])
        labels = torch.tensor([y for _, y in examples])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            head = nn.Linear(bank.shape[1], N_CLASSES)
            opt = torch.optim.Adam(head.parameters(), lr=0.05, weight_decay=1e-4)
            weight = _class_weights(labels)
            for _ in range(300):
                opt.zero_grad()
                F.cross_entropy(head(bank), labels, weight=weight).backward()
                opt.step()
        positive = labels != REJECT  # similarity is measured to the phrasings of tasks only
        return cls(head, bank[positive], labels[positive])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"head.weight": self.head.weight, "head.bias": self.head.bias, "bank.features": self.bank,
                "bank.labels": self.labels}

    def config(self) -> dict[str, Any]:
        try:
            version = importlib.metadata.version(MINILM_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            version = None
        return {"encoder": {"package": MINILM_PACKAGE, "package_version": version,
                            "model": "sentence-transformers/all-MiniLM-L6-v2",
                            "pooling": "mean", "dim": int(self.bank.shape[1])}}

    @classmethod
    def from_saved(cls, folder: Path, config: dict, t: dict[str, torch.Tensor]) -> MiniLMBackend:
        dim = int(config["encoder"]["dim"])
        head = nn.Linear(dim, N_CLASSES)
        head.load_state_dict({"weight": t["head.weight"], "bias": t["head.bias"]})
        _check_bank(folder, t, dim)
        return cls(head, t["bank.features"], t["bank.labels"])


SCRATCH_DIMS = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
                "max_position_embeddings": 64}
SPECIALS = ("[PAD]", "[UNK]", "[CLS]")


class ScratchBackend:
    name = "scratch"

    def __init__(self, tokenizer, bert: nn.Module, head: nn.Linear, bank: torch.Tensor | None = None,
                 labels: torch.Tensor | None = None):
        self.tokenizer, self.bert, self.head = tokenizer, bert.eval(), head.eval()
        self.bank, self.labels = bank, labels

    @staticmethod
    def make_tokenizer(texts: list[str]):
        from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

        tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=list(SPECIALS), show_progress=False))
        tok.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 2)])
        tok.enable_truncation(max_length=SCRATCH_DIMS["max_position_embeddings"])
        return tok

    @staticmethod
    def make_bert(vocab_size: int) -> nn.Module:
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=vocab_size, type_vocab_size=1, pad_token_id=0, **SCRATCH_DIMS)
        return BertModel(config, add_pooling_layer=False)

    def _pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1)

    def features(self, text: str) -> torch.Tensor:
        ids = torch.tensor([self.tokenizer.encode(text).ids])
        with torch.no_grad():
            return F.normalize(self._pooled(ids, torch.ones_like(ids))[0], dim=-1)

    def classify(self, text: str) -> tuple[torch.Tensor, float, float]:
        ids = torch.tensor([self.tokenizer.encode(text).ids])
        with torch.no_grad():
            pooled = self._pooled(ids, torch.ones_like(ids))[0]
            probs, reject = _task_probs(self.head(pooled))
        return probs, reject, _nearest(self.bank, self.labels, F.normalize(pooled, dim=-1), int(probs.argmax()))

    @classmethod
    def train(cls, examples: list[tuple[str, int]], seed: int, steps: int = 400,
              word_dropout: float = 0.15) -> ScratchBackend:
        texts = [text for text, _ in examples]
        labels = torch.tensor([y for _, y in examples])
        tokenizer = cls.make_tokenizer(texts)
        encoded = [tokenizer.encode(t).ids for t in texts]
        ids = torch.zeros(len(encoded), max(map(len, encoded)), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = torch.tensor(e)
        mask = (ids != 0).long()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            bert = cls.make_bert(tokenizer.get_vocab_size())
            head = nn.Linear(SCRATCH_DIMS["hidden_size"], N_CLASSES)
            model = cls(tokenizer, bert, head)
            bert.train()
            weight = _class_weights(labels)
            opt = torch.optim.AdamW([*bert.parameters(), *head.parameters()], lr=2e-3, weight_decay=0.01)
            for _ in range(steps):
                # Replace some words (never [PAD] or [CLS]) by [UNK]: commands will have words never seen.
                drop = (torch.rand(ids.shape) < word_dropout) & (ids > 2)
                opt.zero_grad()
                F.cross_entropy(head(model._pooled(torch.where(drop, 1, ids), mask)), labels, weight=weight).backward()
                opt.step()
            bert.eval()
        positive = [i for i, y in enumerate(labels.tolist()) if y != REJECT]
        model.bank = torch.stack([model.features(texts[i]) for i in positive])
        model.labels = labels[positive]
        return model

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"bert.{k}": v for k, v in self.bert.state_dict().items()}
        out.update({"head.weight": self.head.weight, "head.bias": self.head.bias, "bank.features": self.bank,
                    "bank.labels": self.labels})
        return out

    def config(self) -> dict[str, Any]:
        return {"bert": dict(SCRATCH_DIMS, vocab_size=self.tokenizer.get_vocab_size())}

    @classmethod
    def from_saved(cls, folder: Path, config: dict, t: dict[str, torch.Tensor]) -> ScratchBackend:
        from tokenizers import Tokenizer

        path = folder / "tokenizer.json"
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # missing or not a tokenizers file
            raise WeightsError(f"{path}: not a readable tokenizer ({type(e).__name__}: {e})") from None
        dims = config["bert"]
        if dims != dict(SCRATCH_DIMS, vocab_size=tokenizer.get_vocab_size()):
            raise WeightsError(f"{folder}: config.json's model size {dims} does not match this code or the tokenizer")
        bert = cls.make_bert(dims["vocab_size"])
        head = nn.Linear(dims["hidden_size"], N_CLASSES)
        try:
            bert.load_state_dict({k[5:]: v for k, v in t.items() if k.startswith("bert.")})
            head.load_state_dict({"weight": t["head.weight"], "bias": t["head.bias"]})
        except (RuntimeError, KeyError) as e:
            raise WeightsError(f"{folder / 'weights.safetensors'}: weights do not fit the model ({e})") from None
        _check_bank(folder, t, dims["hidden_size"])
        return cls(tokenizer, bert, head, t["bank.features"], t["bank.labels"])


def _check_bank(folder: Path, t: dict[str, torch.Tensor], dim: int) -> None:
    bank, labels = t.get("bank.features"), t.get("bank.labels")
    if bank is None or labels is None or bank.ndim != 2 or bank.shape[1] != dim or labels.shape != bank.shape[:1]:
        raise WeightsError(f"{folder / 'weights.safetensors'}: missing or misshapen bank.features / bank.labels")


BACKENDS = {"minilm": MiniLMBackend, "scratch": ScratchBackend}  # by the name saved in config.json
