"""How well the command parser does: the three goal metrics and the details of every set it is
measured on.

    evaluate_command_parser(parser)
        -> {"train_exact", "validation_exact", "rejection_rate", "rejection_rate_set", "threshold",
            "goals_met", "rejection_by_set", "mapping_mistakes", "opposite_mappings",
            "confident_wrong_mappings", "splits", ...}
    mapping_mistakes(answer, supported, unsupported)
        -> one set's exact and refused shares, its opposite and confident wrong mappings

A *confident wrong mapping* is a command the parser carries out (a task, exit status 0 from
`saccade parse`) that is not what was asked: a supported command mapped to another task or another
colour, or an unsupported one mapped to a task instead of refused. An *opposite mapping* is the worst
of these: a supported command mapped to the task that undoes it (OPPOSITES). A supported command that
is refused is neither: the user is told, and nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.language.blind_command_sets import (BLIND_PARAPHRASE_SET_C, BLIND_PARAPHRASE_SET_E, BLIND_PARAPHRASE_SET_F,
                                               BLIND_PARAPHRASE_SET_G, BLIND_REJECTION_SET_A, BLIND_REJECTION_SET_B,
                                               BLIND_REJECTION_SET_C, BLIND_REJECTION_SET_E, BLIND_REJECTION_SET_F,
                                               BLIND_REJECTION_SET_G, BLIND_SETS)
from agent.language.command_sets import (AMBIGUOUS_REPORT, AMBIGUOUS_TUNING, DEV_PARAPHRASE_SET_D, DEV_REJECTION_SET_D,
                                         NEGATIVE_TRAIN, UNSUPPORTED_REPORT, UNSUPPORTED_TUNING, labelled_phrasings)
from agent.language.text import task_text, words

if TYPE_CHECKING:
    from agent.language.commands import Analysis, CommandParser, Decision

GOALS = {"train_exact": 0.98, "validation_exact": 0.90, "rejection_rate": 0.90,
         "paraphrase_exact_blind_set_c": 0.95, "rejection_rate_blind_set_c": 0.95,
         "paraphrase_exact_blind_set_e": 0.95, "rejection_rate_blind_set_e": 0.95,
         "paraphrase_exact_blind_set_f": 0.95, "rejection_rate_blind_set_f": 0.95,
         "paraphrase_exact_blind_set_g": 0.97, "rejection_rate_blind_set_g": 0.97}
# Goals that are an upper bound: issue 24 asks for none of either on a fresh blind set.
GOALS_AT_MOST = {"opposite_mappings_blind_set_g": 0, "confident_wrong_mappings_blind_set_g": 0}
# Tasks that undo each other: a command mapped to its opposite is the worst mistake a parser can make.
# Lifting has no opposite among the desk's tasks (putting a block down is none of them): a lift read as
# putting it in the drawer or taking it out is a wrong task, counted as a confident wrong mapping only.
OPPOSITES = {"open_drawer": "close_drawer", "close_drawer": "open_drawer",
             "push_block_left": "push_block_right", "push_block_right": "push_block_left",
             "put_block_in_drawer": "take_block_out", "take_block_out": "put_block_in_drawer"}


def evaluate_command_parser(parser: CommandParser) -> dict[str, Any]:
    """The three goal metrics and per-split details.

    train_exact, validation_exact: share of the training / validation phrasings mapped to the right
    task and block. rejection_rate: share of BLIND_REJECTION_SET_B refused, a set written blind that
    chose nothing; rejection_rate_set names that set, and rejection_rate_blind_set_a/_b give each blind
    set's figure. In splits and rejection_by_set the blind sets keep the keys they were first reported
    under ("fresh_report" is set A, "fresh_report_2" set B), so that recorded results still compare.
    The older report sets are in splits["report"] and splits["fresh_report"]; their mistakes were read
    while the reject class and the compound check were designed. The validation phrasings also chose
    the thresholds, so validation_exact is somewhat optimistic.
    """
    seen: dict[str, tuple[Analysis, Decision]] = {}

    def outcome(text: str) -> tuple[Analysis, Decision]:
        if text not in seen:
            a = parser.analyse(text)
            seen[text] = a, parser.decide(a, parser.thresholds)
        return seen[text]

    def labelled(split: str) -> dict[str, Any]:
        return labelled_rows(labelled_phrasings(split))

    def labelled_rows(rows) -> dict[str, Any]:
        wrong, refused, opposite = [], 0, 0
        for text, task, block in rows:
            a, r = outcome(text)
            refused += r.reason is not None
            opposite += r.task is not None and r.task == OPPOSITES.get(task)
            if (r.task, r.block) != (task, block):
                wrong.append({"text": text, "expected": {"task": task, "block": block}, "got": r.as_dict(),
                              "similarity": round(a.similarity, 4), "probability": round(a.probability, 4)})
        return {"n": len(rows), "exact": 1 - len(wrong) / len(rows), "refused": refused, "opposite": opposite,
                "wrong": wrong}

    def unsupported(texts: tuple[str, ...]) -> dict[str, Any]:
        by_reason: dict[str, int] = {}
        accepted = []
        for text in texts:
            a, r = outcome(text)
            if r.reason is None:
                accepted.append({"text": text, "got": r.as_dict(), "similarity": round(a.similarity, 4),
                                 "probability": round(a.probability, 4)})
            else:
                by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
        return {"n": len(texts), "rejection_rate": 1 - len(accepted) / len(texts),
                "by_reason": dict(sorted(by_reason.items())), "accepted": accepted}

    splits = {"train": labelled("train"), "validation": labelled("validation"),
              "tuning": unsupported((*UNSUPPORTED_TUNING, *AMBIGUOUS_TUNING)),
              "report": unsupported((*UNSUPPORTED_REPORT, *AMBIGUOUS_REPORT)),
              "report_unsupported_only": unsupported(UNSUPPORTED_REPORT),
              "report_ambiguous_only": unsupported(AMBIGUOUS_REPORT),
              "fresh_report": unsupported(BLIND_REJECTION_SET_A),
              "fresh_report_2": unsupported(BLIND_REJECTION_SET_B),
              "fresh_report_2_unseen": unsupported(unseen_commands(BLIND_REJECTION_SET_B)),
              "blind_set_c_paraphrases": labelled_rows(BLIND_PARAPHRASE_SET_C),
              "blind_set_c_rejection": unsupported(BLIND_REJECTION_SET_C),
              "blind_set_e_paraphrases": labelled_rows(BLIND_PARAPHRASE_SET_E),
              "blind_set_e_rejection": unsupported(BLIND_REJECTION_SET_E),
              "blind_set_c_paraphrases_unseen": labelled_rows(_unseen_by_d(BLIND_PARAPHRASE_SET_C)),
              "blind_set_c_rejection_unseen": unsupported(_unseen_by_d(BLIND_REJECTION_SET_C)),
              "blind_set_e_paraphrases_unseen": labelled_rows(_unseen_by_d(BLIND_PARAPHRASE_SET_E)),
              "blind_set_e_rejection_unseen": unsupported(_unseen_by_d(BLIND_REJECTION_SET_E)),
              "blind_set_f_paraphrases": labelled_rows(BLIND_PARAPHRASE_SET_F),
              "blind_set_f_rejection": unsupported(BLIND_REJECTION_SET_F),
              "blind_set_f_paraphrases_unseen": labelled_rows(_unseen_by_d(BLIND_PARAPHRASE_SET_F)),
              "blind_set_f_rejection_unseen": unsupported(_unseen_by_d(BLIND_REJECTION_SET_F)),
              "blind_set_g_paraphrases": labelled_rows(BLIND_PARAPHRASE_SET_G),
              "blind_set_g_rejection": unsupported(BLIND_REJECTION_SET_G),
              "blind_set_g_paraphrases_unseen": labelled_rows(_unseen_by_d(BLIND_PARAPHRASE_SET_G)),
              "blind_set_g_rejection_unseen": unsupported(_unseen_by_d(BLIND_REJECTION_SET_G)),
              "dev_set_d_paraphrases": labelled_rows(DEV_PARAPHRASE_SET_D),
              "dev_set_d_rejection": unsupported(DEV_REJECTION_SET_D)}
    metrics = {"train_exact": splits["train"]["exact"], "validation_exact": splits["validation"]["exact"],
               "rejection_rate": splits["fresh_report_2"]["rejection_rate"],
               "paraphrase_exact_blind_set_c": splits["blind_set_c_paraphrases"]["exact"],
               "rejection_rate_blind_set_c": splits["blind_set_c_rejection"]["rejection_rate"],
               "paraphrase_exact_blind_set_e": splits["blind_set_e_paraphrases"]["exact"],
               "rejection_rate_blind_set_e": splits["blind_set_e_rejection"]["rejection_rate"],
               "paraphrase_exact_blind_set_f": splits["blind_set_f_paraphrases"]["exact"],
               "rejection_rate_blind_set_f": splits["blind_set_f_rejection"]["rejection_rate"],
               "paraphrase_exact_blind_set_g": splits["blind_set_g_paraphrases"]["exact"],
               "rejection_rate_blind_set_g": splits["blind_set_g_rejection"]["rejection_rate"]}

    def answer(text: str) -> dict[str, Any]:
        return outcome(text)[1].as_dict()

    mistakes = {name: {"written_for": written_for, **mapping_mistakes(answer, supported, unsupported)}
                for name, (supported, unsupported, written_for) in BLIND_SETS.items()}
    mistakes["validation"] = {"written_for": "the desk's own phrasings; they chose the thresholds",
                              **mapping_mistakes(answer, labelled_phrasings("validation"))}
    mistakes["train"] = {"written_for": "the desk's own phrasings; they trained the classifier",
                         **mapping_mistakes(answer, labelled_phrasings("train"))}
    mistakes["dev_set_d"] = {"written_for": "round five's development set: it designed the word resolution",
                             **mapping_mistakes(answer, DEV_PARAPHRASE_SET_D, DEV_REJECTION_SET_D)}
    at_most = {"opposite_mappings_blind_set_g": mistakes["blind_set_g"]["opposite_mappings"],
               "confident_wrong_mappings_blind_set_g": mistakes["blind_set_g"]["confident_wrong_mappings"]}
    return {**metrics, **at_most, "rejection_rate_set": "blind_set_b",
            "rejection_rate_blind_set_a": splits["fresh_report"]["rejection_rate"],
            "rejection_rate_blind_set_b": splits["fresh_report_2"]["rejection_rate"],
            # every set with labelled commands (the training, validation and development phrasings and
            # the blind sets); "blind_totals" counts the blind sets alone
            "opposite_mappings": sum(m["opposite_mappings"] for m in mistakes.values()),
            "confident_wrong_mappings": sum(m["confident_wrong_mappings"] for m in mistakes.values()),
            "blind_totals": _totals(mistakes[k] for k in BLIND_SETS),
            "mapping_mistakes": mistakes,
            # Helpers writing apart still write some identical commands ("lock the drawer"): these leave
            # out every command of a blind set that is also in set D, the tuning sets, the training
            # negatives or the training and validation phrasings, all of which chose something.
            "blind_unseen": {k: _figure(splits[f"{k}_unseen"]) for k in (
                "blind_set_c_paraphrases", "blind_set_c_rejection", "blind_set_e_paraphrases", "blind_set_e_rejection",
                "blind_set_f_paraphrases", "blind_set_f_rejection", "blind_set_g_paraphrases",
                "blind_set_g_rejection")},
            "dev_set_d": {"paraphrase_exact": splits["dev_set_d_paraphrases"]["exact"],
                          "rejection_rate": splits["dev_set_d_rejection"]["rejection_rate"]},
            "threshold": asdict(parser.thresholds), "backend": parser.backend,
            "goals": {**GOALS, **{k: f"<= {v}" for k, v in GOALS_AT_MOST.items()}},
            "goals_met": {**{k: metrics[k] >= v for k, v in GOALS.items()},
                          **{k: at_most[k] <= v for k, v in GOALS_AT_MOST.items()}},
            "rejection_by_set": {k: {"n": splits[k]["n"], "rejection_rate": splits[k]["rejection_rate"]}
                                 for k in ("tuning", "report", "fresh_report", "fresh_report_2",
                                           "fresh_report_2_unseen", "blind_set_c_rejection")},
            "splits": splits}


def unseen_commands(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The commands whose classifier text is in no earlier set (a set written blind can happen to
    repeat commands of the training negatives, the tuning sets or an earlier report set)."""
    other = {task_text(words(t)) for t in (*NEGATIVE_TRAIN, *UNSUPPORTED_TUNING, *AMBIGUOUS_TUNING,
                                           *UNSUPPORTED_REPORT, *AMBIGUOUS_REPORT, *BLIND_REJECTION_SET_A)}
    return tuple(t for t in texts if task_text(words(t)) not in other)


def _chose_something() -> set[str]:
    """The word sequences of every command that trained or tuned the parser."""
    texts = [*NEGATIVE_TRAIN, *UNSUPPORTED_TUNING, *AMBIGUOUS_TUNING, *DEV_REJECTION_SET_D,
             *(t for t, _, _ in DEV_PARAPHRASE_SET_D), *(t for t, _, _ in labelled_phrasings("train")),
             *(t for t, _, _ in labelled_phrasings("validation"))]
    return {" ".join(words(t)) for t in texts}


def _unseen_by_d(rows: tuple) -> tuple:
    """The commands of a blind set (plain texts or labelled rows) that no tuning or training set holds."""
    seen = _chose_something()
    return tuple(r for r in rows if " ".join(words(r if isinstance(r, str) else r[0])) not in seen)


def _figure(split: dict[str, Any]) -> dict[str, Any]:
    key = "exact" if "exact" in split else "rejection_rate"
    return {"n": split["n"], key: split[key]}


def mapping_mistakes(answer: Callable[[str], dict[str, Any]], supported: Iterable[tuple[str, str, str | None]],
                     unsupported: Iterable[str] = ()) -> dict[str, Any]:
    """One set's figures from the parser's public answers (answer: text -> parse's dict).

    supported: (text, task id, block or None) rows; unsupported: texts that must be refused. Gives the
    share of supported commands mapped exactly and of unsupported ones refused (None for an empty
    part), the supported commands refused, and the opposite and confident wrong mappings, counted and
    listed as {"text", "expected", "got"} ("expected" is "refusal" for an unsupported command). Every
    opposite mapping is also a confident wrong one.
    """
    supported, unsupported = list(supported), list(unsupported)
    exact, refused_supported, refused = 0, 0, 0
    opposite, wrong = [], []
    for text, task, block in supported:
        got = answer(text)
        if "task" not in got:
            refused_supported += 1
            continue
        got = {"task": got["task"], "block": got["block"]}
        if got == {"task": task, "block": block}:
            exact += 1
            continue
        entry = {"text": text, "expected": {"task": task, "block": block}, "got": got}
        wrong.append(entry)
        if got["task"] == OPPOSITES.get(task):
            opposite.append(entry)
    for text in unsupported:
        got = answer(text)
        if "task" not in got:
            refused += 1
        else:
            wrong.append({"text": text, "expected": "refusal", "got": {"task": got["task"], "block": got["block"]}})
    return {"supported": len(supported), "exact": exact / len(supported) if supported else None, "exact_count": exact,
            "supported_refused": refused_supported,
            "unsupported": len(unsupported), "refused": refused / len(unsupported) if unsupported else None,
            "refused_count": refused,
            "opposite_mappings": len(opposite), "confident_wrong_mappings": len(wrong),
            "opposite_mapping_commands": opposite, "confident_wrong_commands": wrong}


def _totals(sets: Iterable[dict[str, Any]]) -> dict[str, int]:
    sets = list(sets)
    return {k: sum(m[k] for m in sets) for k in ("supported", "exact_count", "unsupported", "refused_count",
                                                 "opposite_mappings", "confident_wrong_mappings")}
