"""The command parser's two thresholds, and the search that picks them on held-out data.

The search uses the validation phrasings, the tuning commands (UNSUPPORTED_TUNING +
AMBIGUOUS_TUNING) and the development set D (its paraphrases and its commands to refuse), never
the report or blind sets, which only measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.language.command_sets import (AMBIGUOUS_TUNING, DEV_PARAPHRASE_SET_D, DEV_REJECTION_SET_D, UNSUPPORTED_TUNING,
                                         labelled_phrasings)

if TYPE_CHECKING:
    from agent.language.commands import CommandParser


@dataclass(frozen=True)
class Thresholds:
    """A command is carried out only if both hold for its predicted task."""

    similarity: float = 0.0  # cosine similarity to the nearest training phrasing of the task (familiarity)
    probability: float = 0.0  # the classifier's probability of the task (no close second: not ambiguous)


def _candidates(values: np.ndarray) -> np.ndarray:
    """0 and the midpoints between consecutive distinct values."""
    v = np.unique(np.round(values, 6))
    return np.concatenate([[0.0], np.round((v[1:] + v[:-1]) / 2, 6)])


def choose_thresholds(parser: CommandParser) -> tuple[Thresholds, dict[str, Any]]:
    """The thresholds that maximise exact accuracy on the validation phrasings and set D's paraphrases +
    the rejection rate of the tuning commands (UNSUPPORTED_TUNING + AMBIGUOUS_TUNING + set D's
    commands to refuse), both weighted alike.

    Candidates for each threshold are 0 and the midpoints between consecutive values seen. Among the
    best pairs the one in the middle is taken (median similarity, then median probability), which
    keeps the thresholds away from the examples on either side.
    """
    zero = Thresholds()
    labelled = [*labelled_phrasings("validation"), *DEV_PARAPHRASE_SET_D]
    valid = [parser.analyse(p) for p, _, _ in labelled]
    want = [(t, b) for _, t, b in labelled]
    tuning = [parser.analyse(p) for p in (*UNSUPPORTED_TUNING, *AMBIGUOUS_TUNING, *DEV_REJECTION_SET_D)]
    # What each command gives with both thresholds at 0; raising them can only turn answers into refusals.
    right = np.array([(parser.decide(a, zero).task, parser.decide(a, zero).block) == w for a, w in zip(valid, want)])
    passes = np.array([parser.decide(a, zero).reason is None for a in tuning])
    sim = np.array([a.similarity for a in valid + tuning])
    prob = np.array([a.probability for a in valid + tuning])
    s_cand, p_cand = _candidates(sim), _candidates(prob)
    kept = (sim[None, None, :] >= s_cand[:, None, None]) & (prob[None, None, :] >= p_cand[None, :, None])
    accuracy = (kept[..., : len(valid)] & right).mean(-1)
    rejection = 1 - (kept[..., len(valid):] & passes).mean(-1)
    total = accuracy + rejection
    winners = np.argwhere(np.isclose(total, total.max()))  # rows sorted by similarity index, then probability
    si = int(np.sort(winners[:, 0])[(len(winners) - 1) // 2])
    ps = np.sort(winners[winners[:, 0] == si][:, 1])
    pi = int(ps[(len(ps) - 1) // 2])
    thresholds = Thresholds(float(s_cand[si]), float(p_cand[pi]))
    return thresholds, {"validation_exact": float(accuracy[si, pi]), "tuning_rejection": float(rejection[si, pi]),
                        "candidate_pairs": int(total.size), "best_pairs": int(len(winners))}
