"""Streaming glimpses from play data for contrastive learning, a few chunks in memory at a time.

Only the unsupervised keys are read: images, episode ids and step indices.
"""

from __future__ import annotations

import numpy as np

from agent.data.format import DataError, PlayData

STREAMS = ("fovea", "periphery")


class GlimpseBuffer:
    """A rotating buffer of chunks; samples (anchor, positive) image pairs.

    A positive is either the anchor itself (to be augmented differently) or a frame of
    the same episode at most `max_dt` steps away ("did these two frames come from the
    same video?"). The other pairs of the batch are the negatives.
    """

    def __init__(self, data: PlayData, chunk_ids: list[int], size: int, rng: np.random.Generator, keep=None):
        """keep: optional function of the gaze array (N, 3) -> bool mask of the rows to sample."""
        if not chunk_ids:
            raise ValueError("no chunks to stream from")
        self.keep = keep
        self.data = data
        self.chunk_ids = list(chunk_ids)
        self.rng = rng
        self.order: list[int] = []
        self.cursor = 0
        self.slots: list[int] = []
        self._loaded: dict[int, dict[str, np.ndarray]] = {}
        self._new_epoch()
        for _ in range(min(size, len(self.chunk_ids))):
            self.slots.append(self._next_chunk())
        self._sync()

    def _new_epoch(self) -> None:
        self.order = [int(i) for i in self.rng.permutation(self.chunk_ids)]
        self.cursor = 0

    def _next_chunk(self) -> int:
        if self.cursor >= len(self.order):
            self._new_epoch()
        cid = self.order[self.cursor]
        self.cursor += 1
        return cid

    def _sync(self) -> None:
        """Load the chunks in the slots; drop the others."""
        for cid in list(self._loaded):
            if cid not in self.slots:
                del self._loaded[cid]
        for cid in self.slots:
            if cid not in self._loaded:
                with self.data.open(cid) as chunk:
                    arrays = chunk.read(("episode", "gaze", *STREAMS))
                episodes = arrays["episode"]
                # rows of one episode are contiguous: [start, end) per row
                change = np.flatnonzero(np.diff(episodes)) + 1
                starts = np.concatenate([[0], change])
                ends = np.concatenate([change, [len(episodes)]])
                lengths = ends - starts
                arrays["ep_start"] = np.repeat(starts, lengths)
                arrays["ep_end"] = np.repeat(ends, lengths)
                rows = np.arange(len(episodes)) if self.keep is None else np.flatnonzero(self.keep(arrays["gaze"]))
                if len(rows) == 0:
                    rows = np.arange(len(episodes))  # a chunk with nothing to keep: rare, and harmless
                arrays["rows"] = rows
                self._loaded[cid] = arrays

    def refresh(self) -> None:
        """Swap one slot for the next chunk in the (shuffled, cycling) order."""
        if len(self.chunk_ids) <= len(self.slots):
            return
        incoming = self._next_chunk()
        while incoming in self.slots:
            incoming = self._next_chunk()
        self.slots[int(self.rng.integers(len(self.slots)))] = incoming
        self._sync()

    def sample_pairs(self, stream: str, batch: int, temporal_fraction: float, max_dt: int):
        anchors, positives = [], []
        slot_of = self.rng.integers(len(self.slots), size=batch)
        temporal = self.rng.random(batch) < temporal_fraction
        offsets = self.rng.integers(1, max_dt + 1, size=batch) * self.rng.choice([-1, 1], size=batch)
        for k in range(batch):
            arrays = self._loaded[self.slots[slot_of[k]]]
            rows = arrays["rows"]
            i = int(rows[self.rng.integers(len(rows))])
            j = i
            if temporal[k]:
                j = int(np.clip(i + offsets[k], arrays["ep_start"][i], arrays["ep_end"][i] - 1))
            anchors.append(arrays[stream][i])
            positives.append(arrays[stream][j])
        return np.stack(anchors), np.stack(positives)

    def state(self) -> dict:
        return {"order": self.order, "cursor": self.cursor, "slots": self.slots}

    def load_state(self, state: dict) -> None:
        self.order, self.cursor, self.slots = list(state["order"]), int(state["cursor"]), list(state["slots"])
        self._sync()


def split_chunks(n_chunks: int, test_fraction: float) -> tuple[list[int], list[int]]:
    """Hold out the last chunks (whole episodes, never seen in training) for evaluation."""
    if n_chunks < 2:
        raise DataError(f"need at least 2 chunks of play data to hold some out, found {n_chunks}; "
                        "collect more episodes than collect.chunk_episodes")
    n_test = min(n_chunks - 1, max(1, int(round(n_chunks * test_fraction))))
    return list(range(n_chunks - n_test)), list(range(n_chunks - n_test, n_chunks))
