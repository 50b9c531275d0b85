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
# word -> the thing it names ("table" and "desk" name the desk itself).
DESK_OBJECTS = {
    "drawer": "drawer", "drawers": "drawer", "button": "button", "buttons": "button", "switch": "button",
    "lamp": "lamp", "lamps": "lamp", "light": "lamp", "lights": "lamp", "block": "block", "blocks": "block",
    "table": "desk", "desk": "desk",
}

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


# ---- Words people use for the desk's things, read into the desk's own words before classification.

# Other names for the blocks. "one" stands for a block only after a colour ("the green one").
BLOCK_NOUNS = frozenset({"block", "blocks", "cube", "cubes", "brick", "bricks", "box", "boxes", "piece", "pieces"})
# Other names for the drawer and the lamp; "switch" names the button but is also a verb ("switch the
# light"), so it is accepted as a desk object and left as it is.
OBJECT_SYNONYMS = {"compartment": "drawer", "bulb": "lamp"}
_COLOUR_SUFFIXES = frozenset({"coloured", "colored", "color", "colour", "tinted", "painted"})


def _hue_class(hex_colour: str) -> str:
    """One of the desk's colours or another colour word, for an RGB colour, by its hue on the usual
    12-sector colour wheel; pale reds read as pink, dark or greyish colours as black or grey."""
    import colorsys

    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    if v < 0.15:
        return "black"
    if s < 0.25:
        return "grey"
    hue = h * 360
    if hue >= 330 or hue < 15:
        return "pink" if s < 0.6 and v > 0.8 else "red"
    for upper, name in ((45, "orange"), (70, "yellow"), (165, "green"), (190, "cyan"), (255, "blue"), (330, "purple")):
        if hue < upper:
            return name
    raise AssertionError("unreachable")


_SHADES: dict[str, str] | None = None


def shade(name: str) -> str | None:
    """The colour class ('red', 'green', 'blue' or another colour word) of a colour name from the XKCD
    colour survey (949 names that 222,500 people gave to colours, shipped with matplotlib), or None
    if the name is not there. "scarlet" -> 'red', "sky blue" -> 'blue', "lime" -> 'green'."""
    global _SHADES
    if _SHADES is None:
        from matplotlib.colors import XKCD_COLORS  # on the first colour name before a block noun (0.1 s)

        _SHADES = {key.removeprefix("xkcd:"): _hue_class(value) for key, value in XKCD_COLORS.items()}
    return _SHADES.get(name)


def desk_words(text_words: list[str]) -> list[str]:
    """The command's words with other names of the desk's things replaced by the desk's own: block
    nouns by "block", shades by their colour class ("the crimson brick" -> "the red block", "the
    azure one" -> "the blue block"). A word is read as a shade only when it names the colour of a
    block (a block noun or "one" follows, perhaps after "coloured"), so that "grass", "stone" or
    "ice" elsewhere in a command stay what they are."""
    out: list[str] = []
    i = 0
    while i < len(text_words):
        w = text_words[i]
        if w in BLOCK_NOUNS:
            out.append("block")
            i += 1
            continue
        if w in OBJECT_SYNONYMS:
            out.append(OBJECT_SYNONYMS[w])
            i += 1
            continue
        matched = _shade_phrase(text_words, i)
        if matched is not None:
            colour, length = matched
            out.append(colour)
            i += length
            continue
        if w == "one" and out and (out[-1] in COLOURS or out[-1] in OTHER_COLOURS):
            out.append("block")
        else:
            out.append(w)
        i += 1
    return out


def _shade_phrase(text_words: list[str], i: int) -> tuple[str, int] | None:
    """(colour class, words used) when a one- or two-word colour name starts at i and a block noun or
    "one" follows it (perhaps after "coloured"). The desk's own colour words are kept as they are."""
    if text_words[i] in COLOURS:
        return None
    for length in (2, 1):
        if i + length > len(text_words):
            continue
        j = i + length
        while j < len(text_words) and text_words[j] in _COLOUR_SUFFIXES:
            j += 1
        if j < len(text_words) and (text_words[j] in BLOCK_NOUNS or text_words[j] == "one"):
            colour = shade(" ".join(text_words[i:i + length]))  # looked up only before a block noun
            if colour is not None:
                return colour, j - i
    return None


# ---- The parts of a command that settle which of two opposite tasks it means.

# Words that say which way a task goes, by pair of opposite tasks. "in" closes the drawer only as the
# command's last word ("push the drawer back in"): elsewhere it is a place ("in the drawer").
_WAYS = {
    ("open_drawer", "close_drawer"): ({"open", "opened", "out"}, {"close", "closed", "shut"}),
    ("push_block_left", "push_block_right"): ({"left", "leftward", "leftwards"}, {"right", "rightward", "rightwards"}),
    ("put_block_in_drawer", "take_block_out"): ({"in", "into", "inside"}, {"out", "from"}),
}


def way_of(task_id: str, text_words: list[str]) -> tuple[str, tuple[str, str]] | None:
    """(the task its direction words name, the opposite pair) when task_id has an opposite and the
    command's own direction words name exactly one of the two; None when they name neither or both."""
    for pair, (first, second) in _WAYS.items():
        if task_id not in pair:
            continue
        named = set(text_words)
        if pair[0] == "open_drawer" and text_words and text_words[-1] == "in":
            named.add("shut")
        says_first, says_second = bool(named & first), bool(named & second)
        if says_first != says_second:
            return (pair[0] if says_first else pair[1]), pair
    return None


# A command that asks something rather than asking for something: it starts with a question word or
# with "is/are/does..." ("is the drawer open?"). "can/could/would you ..." are requests, not questions.
_QUESTION_STARTS = frozenset({"what", "why", "how", "where", "which", "who", "whose", "when", "is", "are", "was",
                              "were", "does", "do", "did", "has", "have", "am"})
# Words that pick out another one of a thing the desk has only one of ("the second drawer", "the
# ceiling light", "the other button").
_OTHER_INSTANCE = frozenset({"second", "third", "fourth", "fifth", "2nd", "3rd", "4th", "top", "bottom", "upper",
                             "lower", "middle", "other", "another", "ceiling", "kitchen", "bedroom", "office",
                             "floor", "wall"})


def is_question(text_words: list[str]) -> bool:
    return bool(text_words) and text_words[0] in _QUESTION_STARTS


def other_instance(text_words: list[str]) -> str | None:
    """'the second drawer' -> 'second drawer': a modifier right before a desk object that names another
    one of it; None if there is none."""
    for before, word in zip(text_words, text_words[1:]):
        if before in _OTHER_INSTANCE and word in DESK_OBJECTS and DESK_OBJECTS[word] != "block":
            return f"{before} {word}"
    return None


# The lamp is switched by the button, so asking for the lamp on or off asks for a press.
_LAMP_WORDS = frozenset({"lamp", "lamps", "light", "lights", "bulb"})
_TRAILING = frozenset({"please", "now", "again", "for", "me", "thanks", "thank", "you"})


def asks_lamp_switched(text_words: list[str]) -> bool:
    """Whether the command asks for the lamp on or off ("turn on the lamp", "switch the light off",
    "I'd like the lamp turned on, please"), naming no drawer and no block. "on"/"off" counts as the
    lamp's state when it comes before the lamp's name or ends the command; "put the lamp on the
    desk" uses "on" as a place."""
    if any(DESK_OBJECTS.get(w) in ("drawer", "block") for w in text_words):
        return False
    if any(w in ("is", "are", "was", "were", "stays") for w in text_words):  # "the lamp is on": a statement
        return False
    lamp_at = [i for i, w in enumerate(text_words) if w in _LAMP_WORDS]
    if not lamp_at:
        return False
    core = list(text_words)
    while core and core[-1] in _TRAILING:
        core.pop()
    for i, w in enumerate(core):
        if w in ("on", "off") and (i < lamp_at[0] or i == len(core) - 1):
            return True
    return False


# ---- Issue 24: what the desk cannot do, and commands whose words contradict each other.

CAN_DO = ("it can open or close the drawer, press the button, lift a block, push a block left or right, "
          "and put a block in the drawer or take it out")
# Verbs for things the desk cannot do, whatever they act on.
_CANNOT_VERBS = {
    "throw": "throw things", "toss": "throw things", "fling": "throw things", "hurl": "throw things",
    "chuck": "throw things", "break": "break things", "smash": "break things", "crush": "break things",
    "destroy": "break things", "shatter": "break things", "wreck": "break things", "kick": "kick things",
    "stack": "stack blocks", "pile": "stack blocks", "lock": "lock the drawer", "unlock": "unlock the drawer",
    "unscrew": "take things apart", "dismantle": "take things apart", "everything": "move everything at once",
    "both": "move several blocks at once",
}
# Things and places the desk does not have ("put the block on the shelf", "switch on the fan").
NOT_ON_DESK = frozenset({"shelf", "shelves", "bin", "trash", "garbage", "rubbish", "wastebasket", "basket", "bucket",
                         "bowl", "cup", "mug", "tray", "bag", "pocket", "cupboard", "fridge", "sink", "wall", "ceiling",
                         "window", "door", "elevator", "fan", "tv", "television", "computer", "radio", "heater", "oven",
                         "microwave", "stove", "kettle", "doorbell"})
# Places the desk cannot put a thing; "floor" and "ground" are never on the desk.
_OFF_DESK = frozenset({"floor", "ground"})
_EDGES = frozenset({"table", "desk", "edge", "side", "rails", "rail", "hinges"})
_LIFT_VERBS = frozenset({"lift", "pick", "raise", "hoist", "elevate", "take", "get", "grab", "hold"})
_GIVE_VERBS = frozenset({"hand", "bring", "give", "pass", "fetch", "get", "toss", "throw"})


def cannot_do(text_words: list[str]) -> str | None:
    """What the command asks for that the desk cannot do ("throw things", "put things on the floor",
    "push things off the table", "hand things to you", "stack blocks"), or None. A block taken "off
    the table" by a lifting verb is a lift ("take the red block off the table")."""
    for w in text_words:
        if w in _CANNOT_VERBS:
            return _CANNOT_VERBS[w]
    if any(w in _OFF_DESK for w in text_words):
        return "put things on the floor"
    if {"under", "underneath", "beneath", "below"} & set(text_words):
        return "put things under the table"
    if "all" in text_words and "blocks" in text_words:
        return "move several blocks at once"
    if NOT_ON_DESK & set(text_words):
        return f"reach a {sorted(NOT_ON_DESK & set(text_words))[0]}: there is none on the desk"
    for i, w in enumerate(text_words):
        if w == "off" and any(u in _EDGES for u in text_words[i + 1:i + 4]) and not _LIFT_VERBS & set(text_words):
            return "move things off the table or off their rails"
        if w == "knock" and any(u in ("over", "down", "off") for u in text_words[i + 1:]):
            return "knock things over"
        if w == "me" and i > 0 and (text_words[i - 1] in _GIVE_VERBS or text_words[i - 1] == "to"):
            return "hand things to you"
    return None


def colour_on_colourless(text_words: list[str]) -> str | None:
    """'blue button' when a colour is put on a desk thing other than a block that does not have it: the
    button is red (the training phrasing "push the red button"), the drawer and the lamp have none."""
    for i, w in enumerate(text_words[:-1]):
        if w not in COLOURS and w not in OTHER_COLOURS:
            continue
        j = i + 1
        while j < len(text_words) and text_words[j] in _COLOUR_SUFFIXES:
            j += 1
        thing = DESK_OBJECTS.get(text_words[j]) if j < len(text_words) else None
        if thing in ("drawer", "lamp") or (thing == "button" and w != "red"):
            return f"{w} {text_words[j]}"
    return None


_INTO = frozenset({"in", "into", "inside", "onto", "on"})


def swapped_objects(text_words: list[str]) -> bool:
    """'put the drawer into the red block': the drawer goes into (onto) a block, which is the wrong way
    round; blocks go into the drawer."""
    for i, w in enumerate(text_words):
        if DESK_OBJECTS.get(w) != "drawer":
            continue
        rest = text_words[i + 1:i + 6]
        for k, u in enumerate(rest):
            if u in ("and", "then", "to", "so"):
                break
            if u in _INTO and any(DESK_OBJECTS.get(v) == "block" for v in rest[k + 1:k + 4]):
                return True
    return False


def lifts_no_block(text_words: list[str]) -> str | None:
    """'lift the drawer': a lifting verb on the drawer, the button or the lamp with no block named."""
    objects = {DESK_OBJECTS[w] for w in text_words if w in DESK_OBJECTS}
    if "block" in objects or not objects - {"desk"}:
        return None
    if {"lift", "raise", "hoist", "elevate"} & set(text_words) or ("pick" in text_words and "up" in text_words):
        return sorted(objects - {"desk"})[0]
    return None


# Verbs that carry a direction of their own, for the pairs of opposite tasks: pushing a drawer closes
# it and pulling opens it; taking a block moves it out. A command whose verb goes one way and whose
# particle the other ("push the drawer open", "pull the drawer shut", "take the blue block into the
# drawer") is refused with both tasks suggested.
_DRAWER_CLOSERS = frozenset({"push", "shove", "press", "slam", "nudge"})
_DRAWER_OPENERS = frozenset({"pull", "yank", "tug", "draw", "drag"})
_OUT_VERBS = frozenset({"take", "remove", "extract", "pull", "retrieve", "fetch", "unpack"})
_IN_VERBS = frozenset({"put", "place", "drop", "stash", "store", "stow", "pop", "stick", "insert", "tuck", "slide",
                       "move", "set", "lay", "throw", "toss", "get"})


def opposite_doubt(text_words: list[str]) -> tuple[str, str] | None:
    """The two opposite tasks a command hesitates between, when its own words point both ways: a verb
    that goes one way and a particle the other ("push the drawer open"), both of left and right ("push
    the green block left and right"), or a verb of taking out with "into" ("take the blue block into
    the drawer"). None when its words agree."""
    named = set(text_words)
    objects = {DESK_OBJECTS[w] for w in text_words if w in DESK_OBJECTS}
    left, right = _WAYS[("push_block_left", "push_block_right")]
    if named & left and named & right:
        return ("push_block_left", "push_block_right")
    if objects - {"desk"} == {"drawer"} and len(split_clauses(" ".join(text_words))) == 1:
        opens = bool(named & {"open", "opened"}) or "out" in named
        closes = bool(named & {"close", "closed", "shut"}) or (bool(text_words) and text_words[-1] == "in")
        if (named & _DRAWER_CLOSERS and opens and not closes) or (named & _DRAWER_OPENERS and closes and not opens):
            return ("open_drawer", "close_drawer")
    if "block" in objects and "drawer" in objects:
        ins, outs = named & {"in", "into", "inside"}, named & {"out", "from"}
        if named & _OUT_VERBS and not named & _IN_VERBS and ins and not outs:
            return ("put_block_in_drawer", "take_block_out")
    return None


def clause_ways(pair: tuple[str, str], clauses: list[str]) -> set[str]:
    """The sides of a pair of opposite tasks that a command's clauses name one by one ("take the red
    block out ... and put it back in": both)."""
    sides = set()
    for clause in clauses:
        settled = way_of(pair[0], clause.split())
        if settled is not None:
            sides.add(settled[0])
    return sides


# Verbs people use for pressing, read as "press" when the command is about the button or the lamp and
# names no block and no drawer ("tap the button", "hit the switch", "click the button once").
_PRESS_VERBS = frozenset({"tap", "hit", "click", "push", "punch", "poke", "smack", "bop", "jab", "touch", "bump",
                          "prod", "ring", "depress", "mash", "boop"})
_GRAB_VERBS = frozenset({"hoist", "grab", "snatch", "seize", "nab", "grip", "grasp"})
_FILLERS = frozenset({"please", "once", "just", "kindly", "quickly", "now"})


def read_informal(text_words: list[str]) -> list[str]:
    """The command's words (already in the desk's words) with informal and terse forms read into the
    desk's: a pressing verb on the button becomes "press"; a desk colour with no noun after it gets
    "block" ("put red away in the drawer"); a command that is a colour and a direction ("red left")
    is a push."""
    objects = {DESK_OBJECTS[w] for w in text_words if w in DESK_OBJECTS}
    out = list(text_words)
    if objects and objects <= {"button", "lamp"}:
        out = ["press" if w in _PRESS_VERBS else w for w in out]
        out = [w for w in out if w not in _FILLERS] or out
    if objects == {"block"} and not set(out) & {"left", "right", "leftward", "rightward", "leftwards", "rightwards",
                                                "drawer", "it"}:
        out = ["lift" if w in _GRAB_VERBS else w for w in out]  # "grab the red cube"
    expanded: list[str] = []
    for i, w in enumerate(out):
        expanded.append(w)
        if w in COLOURS:
            after = out[i + 1] if i + 1 < len(out) else None
            before = out[i - 1] if i > 0 else None
            if (after not in BLOCK_NOUNS and after not in DESK_OBJECTS and after not in _COLOUR_SUFFIXES
                    and after != "one" and before not in DESK_OBJECTS and before not in ("is", "are", "was")):
                expanded.append("block")
    core = [w for w in expanded if w not in _FILLERS and w != "the"]
    if core and core[0] in COLOURS and len(core) >= 3 and core[1] == "block" and \
            set(core[2:]) <= {"left", "right", "to", "leftward", "leftwards", "rightward", "rightwards"}:
        expanded = ["push", *expanded]
    return expanded


def opposite_pair(task_id: str) -> tuple[str, str] | None:
    """The pair of opposite tasks task_id belongs to, or None (lifting and pressing have none)."""
    return next((pair for pair in _WAYS if task_id in pair), None)


# Verbs that name a task of their own when they lead a clause ("... and close it", "... and lift it").
_CLAUSE_VERBS = {"open": "open_drawer", "close": "close_drawer", "shut": "close_drawer", "lift": "lift_block",
                 "raise": "lift_block", "hoist": "lift_block", "press": "press_button"}


def clause_verb_tasks(clauses: list[str]) -> list[str]:
    """The tasks named by the verbs that lead a command's clauses, in order ("put the red block in the
    drawer and close it": close_drawer)."""
    out = []
    for clause in clauses:
        ws = [w for w in clause.split() if w not in _FILLERS and w not in ("then", "now", "after", "that")]
        if ws and ws[0] in _CLAUSE_VERBS:
            out.append(_CLAUSE_VERBS[ws[0]])
    return out
