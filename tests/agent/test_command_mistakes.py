"""The parser evaluation's worst mistakes: opposite mappings and confident wrong mappings (issue 24),
counted on tiny hand-made sets and on a stand-in parser whose answers are known, so that no model is
trained or loaded here."""

import pytest

from agent.language.blind_command_sets import (BLIND_PARAPHRASE_SET_G, BLIND_REJECTION_SET_G,
                                               BLIND_REJECTION_SET_G_WHY, BLIND_SETS)
from agent.language.command_eval import OPPOSITES, evaluate_command_parser, mapping_mistakes
from agent.language.command_sets import labelled_phrasings
from agent.language.commands import Analysis, Decision
from agent.language.thresholds import Thresholds


def _refused() -> dict:
    return {"error": "no", "suggestions": ["open the drawer"]}


# What a made-up parser answers to each command of the hand-made set below.
ANSWERS = {
    "open the drawer": {"task": "open_drawer", "block": None},  # right
    "shut the drawer": {"task": "open_drawer", "block": None},  # opposite
    "push the drawer back in": _refused(),  # refused: a miss, not a wrong mapping
    "nudge the red block left": {"task": "push_block_right", "block": "red"},  # opposite
    "nudge the blue block right": {"task": "push_block_right", "block": "green"},  # wrong colour
    "stash the green block in the drawer": {"task": "take_block_out", "block": "green"},  # opposite
    "get the green block out of the drawer": {"task": "put_block_in_drawer", "block": "red"},  # opposite, and colour
    "raise the red block": {"task": "put_block_in_drawer", "block": "red"},  # wrong task, lifting has no opposite
    "tap the button": {"task": "press_button", "block": None},  # right
    "lift the green block": {"task": "lift_block", "block": "green"},  # right
    # unsupported
    "throw the red block on the floor": {"task": "lift_block", "block": "red"},  # accepted: confident wrong
    "stack the red block on the blue one": _refused(),
    "hand me the blue cube": _refused(),
    "break the button": {"task": "press_button", "block": None},  # accepted: confident wrong
}
SUPPORTED = [
    ("open the drawer", "open_drawer", None),
    ("shut the drawer", "close_drawer", None),
    ("push the drawer back in", "close_drawer", None),
    ("nudge the red block left", "push_block_left", "red"),
    ("nudge the blue block right", "push_block_right", "blue"),
    ("stash the green block in the drawer", "put_block_in_drawer", "green"),
    ("get the green block out of the drawer", "take_block_out", "green"),
    ("raise the red block", "lift_block", "red"),
    ("tap the button", "press_button", None),
    ("lift the green block", "lift_block", "green"),
]
UNSUPPORTED = ["throw the red block on the floor", "stack the red block on the blue one", "hand me the blue cube",
               "break the button"]


def test_hand_made_set_counts():
    out = mapping_mistakes(ANSWERS.__getitem__, SUPPORTED, UNSUPPORTED)
    assert out["supported"] == 10 and out["exact_count"] == 3 and out["exact"] == pytest.approx(0.3)
    assert out["supported_refused"] == 1
    assert out["unsupported"] == 4 and out["refused_count"] == 2 and out["refused"] == pytest.approx(0.5)
    assert out["opposite_mappings"] == 4
    assert [m["text"] for m in out["opposite_mapping_commands"]] == [
        "shut the drawer", "nudge the red block left", "stash the green block in the drawer",
        "get the green block out of the drawer"]
    # the 4 opposites, a wrong colour, a lift read as putting away, and 2 unsupported commands carried out
    assert out["confident_wrong_mappings"] == 8
    wrong = {m["text"]: m for m in out["confident_wrong_commands"]}
    assert set(wrong) == {*(m["text"] for m in out["opposite_mapping_commands"]), "nudge the blue block right",
                          "raise the red block", "throw the red block on the floor", "break the button"}
    assert wrong["nudge the blue block right"] == {"text": "nudge the blue block right",
                                                   "expected": {"task": "push_block_right", "block": "blue"},
                                                   "got": {"task": "push_block_right", "block": "green"}}
    assert wrong["break the button"]["expected"] == "refusal"
    assert wrong["break the button"]["got"] == {"task": "press_button", "block": None}


def test_no_mistakes_and_empty_parts():
    right = {text: {"task": task, "block": block} for text, task, block in SUPPORTED}
    out = mapping_mistakes(right.__getitem__, SUPPORTED)
    assert out["exact"] == 1.0 and out["refused"] is None and out["unsupported"] == 0
    assert out["opposite_mappings"] == out["confident_wrong_mappings"] == 0
    out = mapping_mistakes(lambda text: _refused(), [], UNSUPPORTED)
    assert out["exact"] is None and out["refused"] == 1.0 and out["confident_wrong_mappings"] == 0


def test_lifting_has_no_opposite():
    assert "lift_block" not in OPPOSITES and "press_button" not in OPPOSITES
    assert all(OPPOSITES[OPPOSITES[t]] == t for t in OPPOSITES)


class AlwaysOpens:
    """A stand-in parser that opens the drawer whatever it is told."""

    backend = "always-opens"
    thresholds = Thresholds(0.5, 0.5)

    def analyse(self, text: str) -> Analysis:
        return Analysis()

    def decide(self, a: Analysis, thresholds: Thresholds) -> Decision:
        return Decision(task="open_drawer")


def test_every_blind_set_is_reported_with_its_mistakes():
    report = evaluate_command_parser(AlwaysOpens())
    mistakes = report["mapping_mistakes"]
    assert set(BLIND_SETS) <= set(mistakes) and {"validation", "train", "dev_set_d"} <= set(mistakes)
    for name, (supported, unsupported, written_for) in BLIND_SETS.items():
        m = mistakes[name]
        closes = sum(task == "close_drawer" for _, task, _ in supported)
        opens = sum(task == "open_drawer" for _, task, _ in supported)
        assert m["written_for"] == written_for
        assert (m["supported"], m["unsupported"]) == (len(supported), len(unsupported))
        assert m["opposite_mappings"] == closes, name
        assert m["confident_wrong_mappings"] == len(supported) - opens + len(unsupported), name
        assert m["refused_count"] == 0 and m["exact_count"] == opens
    validation = labelled_phrasings("validation")
    assert mistakes["validation"]["opposite_mappings"] == sum(t == "close_drawer" for _, t, _ in validation)
    assert report["opposite_mappings"] == sum(m["opposite_mappings"] for m in mistakes.values())
    assert report["confident_wrong_mappings"] == sum(m["confident_wrong_mappings"] for m in mistakes.values())
    assert report["blind_totals"]["opposite_mappings"] == sum(mistakes[k]["opposite_mappings"] for k in BLIND_SETS)
    assert report["opposite_mappings_blind_set_g"] == mistakes["blind_set_g"]["opposite_mappings"] > 0
    assert report["goals_met"]["opposite_mappings_blind_set_g"] is False
    assert report["goals_met"]["confident_wrong_mappings_blind_set_g"] is False
    assert report["rejection_rate_blind_set_g"] == 0.0


def test_set_g_is_kept_as_written():
    assert len(BLIND_PARAPHRASE_SET_G) == 114 and len(BLIND_REJECTION_SET_G) == 66
    assert BLIND_REJECTION_SET_G == tuple(text for text, _ in BLIND_REJECTION_SET_G_WHY)
    texts = [t for t, _, _ in BLIND_PARAPHRASE_SET_G] + list(BLIND_REJECTION_SET_G)
    assert len(set(texts)) == len(texts)
    tasks = set(OPPOSITES) | {"press_button", "lift_block"}
    for text, task, block in BLIND_PARAPHRASE_SET_G:
        assert task in tasks and (block is None) == (task in ("open_drawer", "close_drawer", "press_button")), text
