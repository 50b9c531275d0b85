"""How the command parser reads the words of a command: normalised words, the word lists its checks
use, the text the task classifier sees, and a command's clauses."""

from __future__ import annotations

import re
import unicodedata

from envs.scene import COLOURS

# Colour words that name no block on the desk; a command that uses one is refused, never mapped to
# the nearest desk colour.
OTHER_COLOURS = frozenset({
    "yellow", "orange", "purple", "violet", "pink", "black", "white", "grey", "gray", "brown", "cyan",
    "magenta", "teal", "turquoise", "indigo", "gold", "golden", "silver", "beige", "maroon", "navy", "lime",
})
# What the desk has that a command can be about. Every training and validation phrasing names one.
DESK_OBJECTS = frozenset({
    "drawer", "drawers", "button", "buttons", "lamp", "lamps", "light", "lights", "block", "blocks",
    "table", "desk",
})

_JOINERS = re.compile(r"\b(?:and|then|after|afterwards|before)\b")
_NEGATION = re.compile(r"\b(?:not|never|dont|cannot)\b|n['\u2019]t\b")


def words(text: str) -> list[str]:
    """Lower-cased words (letters and digits of any script); punctuation is dropped."""
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).lower())


def task_text(text_words: list[str]) -> str:
    """What the task classifier sees: the words without colour words (the task does not depend on the
    colour)."""
    return " ".join(w for w in text_words if w not in COLOURS and w not in OTHER_COLOURS)


def is_negated(text: str) -> bool:
    """Whether the command says what not to do ("don't open the drawer"); read on the raw text, where
    the apostrophe still is."""
    return _NEGATION.search(unicodedata.normalize("NFKC", text).lower()) is not None


def split_clauses(text: str) -> list[str]:
    """The parts of a command joined by 'and', 'then', 'after', 'before' ("first" dropped)."""
    parts = [[w for w in p.split() if w != "first"] for p in _JOINERS.split(text)]
    return [" ".join(p) for p in parts if p]
