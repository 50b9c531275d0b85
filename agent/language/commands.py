"""The command parser of the language head: a typed command -> one of the desk's tasks, or a refusal.

    parser = train_command_parser(seed=0, backend="minilm")
    parser.parse("please put the red block in the drawer")
        -> {"task": "put_block_in_drawer", "block": "red"}
    parser.parse("make me a coffee")
        -> {"error": "the command names nothing on the desk ...", "suggestions": ["open the drawer", ...]}

A command is first read in the desk's words (agent/language/text.py desk_words): other names for
the blocks ("cube", "brick", "the green one") become "block", colour shades before a block noun
become their colour by hue ("crimson" -> red, "azure" -> blue). Then three stages, and the first
that objects refuses it, naming why:

1. Checks on the text: empty or whitespace, longer than MAX_CHARS, no word that occurs in the
   training phrasings (gibberish), no object the desk has (drawer, button, lamp, blocks...), a
   negation ("don't open the drawer"), a colour the desk has no block of (yellow, purple...),
   several block colours in one command, a question ("is the lamp on?"), another one of a thing the
   desk has one of ("the second drawer"). The word lists are in agent/language/text.py.
2. A task classifier over the 8 task ids and a ninth, reject class ("no single desk task", trained
   on NEGATIVE_TRAIN), fed the command with its colour words removed (the task does not depend on
   the colour). The command is carried out only if both
   - its similarity (cosine between its feature vector and the nearest training phrasing of the
     predicted task) reaches Thresholds.similarity: otherwise it is unlike anything the desk does;
   - the classifier's probability of that task (against the other tasks and the reject class)
     reaches Thresholds.probability: otherwise it is ambiguous ("move the red block": lift it? push
     it which way?) or no desk task at all ("lock the drawer").
   A command that joins clauses ("and", "then", "after", "before") is refused when its clauses that
   pass both thresholds ask for different tasks (lifting a block counts as the first part of a later
   block task).
   Both thresholds are picked on held-out data (agent/language/thresholds.py), never on the report
   sets, which only measure the rejection rate (agent/language/command_eval.py; the sets are in
   agent/language/command_sets.py and blind_command_sets.py).
   The command's direction words settle a pair of opposite tasks (open/close, left/right, in/out of
   the drawer): the classifier says what kind of motion, the words which way. The task's object must
   be named ("slide the button to the right" is no block push).
3. The colour: a block task takes the colour word of the command (red, green or blue) and is refused
   without one; the other tasks take none (the training phrasing "push the red button" names the
   button's colour, not a block).

The two classifier backends, "minilm" (the default) and "scratch", are in
agent/language/parser_backends.py.

Saved as config.json + weights.safetensors (+ tokenizer.json for "scratch"); loading never unpickles.
See docs/commands.md for the measured figures and why "minilm" is the default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from agent.language.command_eval import evaluate_command_parser
from agent.language.command_sets import NEGATIVE_TRAIN, labelled_phrasings
from agent.language.embedding import MissingModelError
from agent.language.parser_backends import BACKENDS, REJECT, MiniLMBackend, ScratchBackend
from agent.language.text import (CAN_DO, DESK_OBJECTS, OTHER_COLOURS, asks_lamp_switched, cannot_do, clause_ways,
                                 clause_verb_tasks,
                                 colour_on_colourless, desk_words, is_negated, is_question, lifts_no_block,
                                 opposite_doubt, opposite_pair, other_instance, read_informal, split_clauses,
                                 swapped_objects, task_text, way_of, words)
from agent.language.thresholds import Thresholds, choose_thresholds
from agent.weights import WeightsError, load_safetensors
from envs.instructions import phrasings
from envs.scene import COLOURS
from envs.tasks import ALL_TASKS, BLOCK_TASKS, TASK_IDS, Task

# The parser's public face; evaluate_command_parser and MissingModelError live in their own modules.
__all__ = ["CommandParser", "MissingModelError", "canonical_phrasing", "evaluate_command_parser",
           "train_command_parser"]

MAX_CHARS = 300
FORMAT_VERSION = 2  # 2: the classifier has a reject class after the task ids


def canonical_phrasing(task: Task) -> str:
    """The first training phrasing of a task, e.g. 'open the drawer' or 'lift the red block'."""
    return phrasings(task, "train")[0]


def _training_examples() -> list[tuple[str, int]]:
    """(task text, label) pairs, sorted and without duplicates: the training phrasings with their task
    index, and NEGATIVE_TRAIN with the label REJECT (colours are stripped, so the three colours of a
    block task share their examples)."""
    seen: dict[str, int] = {}
    labelled = [(p, TASK_IDS.index(task.id)) for task in ALL_TASKS for p in phrasings(task, "train")]
    for p, label in labelled + [(n, REJECT) for n in NEGATIVE_TRAIN]:
        text = task_text(words(p))
        if seen.setdefault(text, label) != label:
            raise ValueError(f"training example {text!r} is given two labels")
    return sorted(seen.items())


@dataclass
class Analysis:
    """Everything about one command that does not depend on the thresholds."""

    reason: str | None = None  # why the checks of stage 1 refuse it, None if they let it through
    message: str = ""
    probs: torch.Tensor | None = None  # task probabilities of the classifier
    reject: float = 0.0  # the classifier's probability that the command is no desk task
    similarity: float = 0.0
    colours: list[str] = field(default_factory=list)  # desk colours named, in order, without repeats
    objects: set[str] = field(default_factory=set)  # the desk's things the command names (drawer, button, ...)
    # (task index, probability, similarity) of each clause, when the command joins several
    clauses: list[tuple[int, float, float]] = field(default_factory=list)

    # The task that the command's direction words pick out of the classifier's likeliest pair of
    # opposite tasks ("shove the drawer back in": closing, whatever the classifier leans to), and
    # the pair's probability: the classifier says what kind of motion, the words say which way.
    way: str | None = None
    way_probability: float = 0.0
    # The tasks to suggest when stage 1 refuses a command that hesitates between two opposite tasks.
    suggest_tasks: list[str] = field(default_factory=list)

    @property
    def probability(self) -> float:
        if self.way is not None:
            return self.way_probability
        return 0.0 if self.probs is None else float(self.probs.max())


@dataclass
class Decision:
    """What the parser makes of one command: a task (and block), or a refusal with its reason."""

    task: str | None = None
    block: str | None = None
    reason: str | None = None  # None when accepted
    message: str = ""
    suggestions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        if self.reason is None:
            return {"task": self.task, "block": self.block}
        return {"error": self.message, "suggestions": self.suggestions}


class CommandParser:
    """Maps a typed command to {"task", "block"} or refuses it with {"error", "suggestions"}."""

    def __init__(self, backend: MiniLMBackend | ScratchBackend, thresholds: Thresholds, vocabulary: frozenset[str],
                 info: dict[str, Any] | None = None):
        self._backend = backend
        self.thresholds = thresholds
        self.vocabulary = frozenset(vocabulary)
        self.info = dict(info or {})

    @property
    def backend(self) -> str:
        return self._backend.name

    def warm_up(self) -> None:
        """Load what the first commands would otherwise load on the way (MiniLM, the colour names),
        so that each command at a prompt answers in milliseconds."""
        from agent.language.text import shade

        self.parse("open the drawer")
        shade("red")

    def parse(self, text: str) -> dict[str, Any]:
        """{"task": id, "block": colour or None}, or {"error": why, "suggestions": [up to 3 commands]}."""
        return self.decide(self.analyse(text), self.thresholds).as_dict()

    # ---- the stages

    def analyse(self, text: str) -> Analysis:
        """Stage 1's checks and the classifier's reading: all that does not depend on the thresholds."""
        if not isinstance(text, str):
            raise TypeError(f"a command must be a str, got {type(text).__name__}")
        a = Analysis()
        if not text.strip():
            a.reason, a.message = "empty", "empty command: say what the robot should do, e.g. 'open the drawer'"
            return a
        if len(text) > MAX_CHARS:
            a.reason, a.message = "too_long", f"command too long: {len(text)} characters, at most {MAX_CHARS}"
            text = text[:MAX_CHARS]  # still good enough to rank suggestions
        text_words = read_informal(desk_words(words(text)))
        a.colours = list(dict.fromkeys(w for w in text_words if w in COLOURS))
        a.objects = {DESK_OBJECTS[w] for w in text_words if w in DESK_OBJECTS}
        model_text = task_text(text_words)
        if model_text:
            a.probs, a.reject, a.similarity = self._backend.classify(model_text)
            settled = way_of(TASK_IDS[int(a.probs.argmax())], text_words)
            if settled is not None:
                a.way = settled[0]
                a.way_probability = float(sum(a.probs[TASK_IDS.index(t)] for t in settled[1]))
            elif TASK_IDS[int(a.probs.argmax())] == "press_button" and asks_lamp_switched(text_words):
                # The words ask for the lamp's state, which only the button changes: a press, however
                # much of the probability the reject class took ("turn off the lamp").
                a.way = "press_button"
                a.way_probability = float(a.probs.max() + a.reject)
            parts = split_clauses(model_text)
            if len(parts) > 1:
                for part in parts:
                    probs, _, similarity = self._backend.classify(part)
                    a.clauses.append((int(probs.argmax()), float(probs.max()), similarity))
        if a.reason is not None:
            return a
        others = sorted({w for w in text_words if w in OTHER_COLOURS})
        if not any(w in self.vocabulary for w in text_words):
            a.reason, a.message = "unknown_words", "no word of the command is one the parser knows (gibberish?)"
        elif not any(w in DESK_OBJECTS for w in text_words):
            a.reason, a.message = ("no_desk_object", "the command names nothing on the desk (its drawer, its button "
                                   "and lamp, its red, green and blue blocks)")
        elif is_question(text_words):
            a.reason, a.message = "question", "the command asks a question; say what the robot should do"
        elif other_instance(text_words):
            a.reason, a.message = ("not_on_desk", f"the desk has no {other_instance(text_words)}: it has one drawer, "
                                   "one button and one lamp")
        elif is_negated(text):
            a.reason, a.message = "negated", "the command is negated; say what the robot should do, not what not to do"
        elif others:
            a.reason, a.message = ("unknown_colour", f"unknown colour {others[0]!r}: the desk's blocks are "
                                   f"{_colour_list()}")
        elif len(a.colours) > 1:
            a.reason, a.message = ("several_colours", f"the command names several blocks ({', '.join(a.colours)}); "
                                   "each desk task moves one block")
        elif a.probs is None:  # only colour words: already refused above, kept as a guard
            a.reason, a.message = "no_task", "the command names no action"
        elif cannot_do(text_words):
            a.reason, a.message = "cannot_do", f"the desk cannot {cannot_do(text_words)}: {CAN_DO}"
        elif colour_on_colourless(text_words):
            a.reason, a.message = ("colourless", f"the desk has no {colour_on_colourless(text_words)}: its button is "
                                   "red, and the drawer and the lamp have no colour; only the blocks are "
                                   f"{_colour_list()}")
        elif swapped_objects(text_words):
            a.reason, a.message = ("nonsense", "the drawer cannot go into a block: blocks go into the drawer "
                                   f"({CAN_DO})")
        elif lifts_no_block(text_words):
            a.reason, a.message = ("nonsense", f"the {lifts_no_block(text_words)} cannot be lifted: only the blocks "
                                   f"can ({CAN_DO})")
        elif opposite_doubt(text_words):
            a.suggest_tasks = list(opposite_doubt(text_words))
            a.reason, a.message = ("opposite_doubt", "the command's words point both ways: "
                                   f"{' or '.join(t.replace('_', ' ') for t in a.suggest_tasks)}? say one")
        else:
            pair = opposite_pair(TASK_IDS[int(a.probs.argmax())])
            parts = split_clauses(" ".join(text_words))
            best = TASK_IDS[int(a.probs.argmax())]
            led = [*clause_verb_tasks(parts), best] if len(parts) > 1 else []
            led = [t for i, t in enumerate(led)
                   if not (t == "lift_block" and any(u in BLOCK_TASKS and u != t for u in led[i + 1:]))]
            last = clause_verb_tasks(parts[-1:]) if len(parts) > 1 else []
            if last == ["lift_block"] and best in BLOCK_TASKS and best != "lift_block":
                led = [best, "lift_block"]  # "take the blue block out and lift it": lifting comes after
            if len(dict.fromkeys(led)) > 1 and len(clause_verb_tasks(parts)) >= 1:
                a.suggest_tasks = list(dict.fromkeys(led))[:3]
                a.reason, a.message = ("compound", "the command asks for several tasks "
                                       f"({', '.join(a.suggest_tasks)}); give one at a time")
            elif pair is not None and len(parts) > 1 and len(clause_ways(pair, parts)) > 1:
                a.suggest_tasks = sorted(clause_ways(pair, parts), key=pair.index)
                a.reason, a.message = ("compound", "the command asks for several tasks "
                                       f"({', '.join(a.suggest_tasks)}); give one at a time")
        return a

    def decide(self, a: Analysis, thresholds: Thresholds) -> Decision:
        """Stages 2 and 3 under the given thresholds (kept apart from analyse so that the threshold
        search can try many thresholds on one analysis)."""
        if a.reason is not None:
            if a.suggest_tasks:
                return Decision(reason=a.reason, message=a.message,
                                suggestions=[canonical_phrasing(Task(t, _colour_for(t, a.colours)))
                                             for t in a.suggest_tasks])
            return Decision(reason=a.reason, message=a.message,
                            suggestions=self._suggest(a, by_colour=a.reason in ("unknown_colour", "several_colours")))
        best = a.way or TASK_IDS[int(a.probs.argmax())]
        guess = canonical_phrasing(Task(best, _colour_for(best, a.colours)))
        if a.similarity < thresholds.similarity:
            return Decision(reason="unfamiliar", suggestions=self._suggest(a),
                            message=f"not a command the desk supports: the nearest is {guess!r}, but the command is "
                                    f"too far from its phrasings (similarity {a.similarity:.2f}, needs "
                                    f"{thresholds.similarity:.2f})")
        if a.probability < thresholds.probability and a.reject > a.probability:
            return Decision(reason="not_a_task", suggestions=self._suggest(a),
                            message=f"not a command the desk supports: it reads as no single desk task (the "
                                    f"likeliest, {guess!r}, only at {a.probability:.2f}; needs "
                                    f"{thresholds.probability:.2f})")
        if a.probability < thresholds.probability:
            return Decision(reason="ambiguous", suggestions=self._suggest(a),
                            message=f"ambiguous command: the likeliest meaning is {guess!r}, but only at "
                                    f"{a.probability:.2f} (needs {thresholds.probability:.2f})")
        several = _clause_tasks(a, thresholds, best)
        if len(several) > 1:
            return Decision(reason="compound", suggestions=[canonical_phrasing(Task(t, _colour_for(t, a.colours)))
                                                            for t in several[:3]],
                            message=f"the command asks for several tasks ({', '.join(several)}); give one at a time")
        missing = _missing_object(best, a.objects)
        if missing:
            return Decision(reason="wrong_object", suggestions=self._suggest(a),
                            message=f"the likeliest meaning is {guess!r}, but the command names no {missing}"
                                    + (f" (it names the {', '.join(sorted(a.objects))})" if a.objects else ""))
        if best not in BLOCK_TASKS:
            return Decision(task=best, block=None)
        if not a.colours:
            return Decision(reason="no_colour", suggestions=self._suggest(a, by_colour=True),
                            message=f"which block? the command names no colour; the desk's blocks are {_colour_list()}")
        return Decision(task=best, block=a.colours[0])

    def _suggest(self, a: Analysis, by_colour: bool = False) -> list[str]:
        """Up to 3 supported commands nearest to the text: the likeliest tasks, or the likeliest block
        task in each colour when the colour was the problem."""
        if a.probs is None:
            order = list(TASK_IDS)
        else:
            order = [TASK_IDS[i] for i in sorted(range(len(TASK_IDS)), key=lambda i: (-float(a.probs[i]), i))]
        if by_colour:
            task = next(t for t in order if t in BLOCK_TASKS)
            colours = list(dict.fromkeys([*a.colours, *COLOURS]))
            return [canonical_phrasing(Task(task, c)) for c in colours[:3]]
        return [canonical_phrasing(Task(t, _colour_for(t, a.colours))) for t in order[:3]]

    # ---- saving

    def save(self, folder: str | Path) -> Path:
        """config.json + weights.safetensors (+ tokenizer.json for the scratch backend)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._backend.tensors().items()}
        tmp = folder / "weights.safetensors.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(folder / "weights.safetensors")
        if isinstance(self._backend, ScratchBackend):
            self._backend.tokenizer.save(str(folder / "tokenizer.json"))
        config = {"kind": "saccade.CommandParser", "format": FORMAT_VERSION, "backend": self.backend,
                  "thresholds": asdict(self.thresholds), "task_ids": list(TASK_IDS), "colours": list(COLOURS),
                  "max_chars": MAX_CHARS, "vocabulary": sorted(self.vocabulary), "info": self.info,
                  **self._backend.config()}
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> CommandParser:
        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.exists() or not (folder / "weights.safetensors").exists():
            raise WeightsError(f"{folder}: no command parser here (config.json + weights.safetensors)")
        try:
            config = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise WeightsError(f"{cfg_path}: not valid JSON ({e})") from None
        if not isinstance(config, dict) or config.get("kind") != "saccade.CommandParser":
            raise WeightsError(f"{cfg_path}: not a command parser config")
        if config.get("format") != FORMAT_VERSION or config.get("backend") not in BACKENDS:
            raise WeightsError(f"{cfg_path}: format {config.get('format')!r} / backend {config.get('backend')!r} "
                               f"not understood (format {FORMAT_VERSION}, backends {', '.join(BACKENDS)}); retrain it: "
                               "saccade train language")
        if config.get("task_ids") != list(TASK_IDS) or config.get("colours") != list(COLOURS):
            raise WeightsError(f"{cfg_path}: saved for other task ids or colours than the desk's")
        tensors = load_safetensors(folder / "weights.safetensors")
        try:
            backend = BACKENDS[config["backend"]].from_saved(folder, config, tensors)
            thresholds = Thresholds(**config["thresholds"])
            vocabulary = frozenset(config["vocabulary"])
        except (KeyError, TypeError, RuntimeError) as e:
            raise WeightsError(f"{folder}: weights or config do not fit the {config['backend']} model ({e})") from None
        return cls(backend, thresholds, vocabulary, config.get("info"))


def _clause_tasks(a: Analysis, thresholds: Thresholds, best: str) -> list[str]:
    """The distinct tasks that a command joining clauses asks for: those of its clauses that pass both
    thresholds, and the whole command's own. Picking a block up is the first part of the other block
    tasks ("pick up the block and put it in the drawer"), so a lifting clause does not count when a
    later clause, or the whole command, is another block task."""
    if not a.clauses:
        return [best]
    # A clause asks for a task only if that task has most of the classifier's probability, whatever the
    # threshold: a backend whose chosen probability threshold is near 0 must not read "put it in the
    # drawer" as a second task at 0.3.
    least = max(thresholds.probability, 0.5)
    tasks = [TASK_IDS[t] for t, p, sim in a.clauses if p >= least and sim >= thresholds.similarity]
    tasks.append(best)
    tasks = [t for i, t in enumerate(tasks)
             if not (t == "lift_block" and any(u in BLOCK_TASKS and u != t for u in tasks[i + 1:]))]
    return list(dict.fromkeys(tasks))


# What each task acts on; a command must name it (in the desk's words or another name for it).
TASK_OBJECTS = {"open_drawer": ("drawer",), "close_drawer": ("drawer",), "press_button": ("button", "lamp"),
                "lift_block": ("block",), "push_block_left": ("block",), "push_block_right": ("block",),
                "put_block_in_drawer": ("block",), "take_block_out": ("block",)}


def _missing_object(task_id: str, named: set[str]) -> str | None:
    """The object the task acts on when the command names none of its names, else None: "slide the
    button to the right" reads as a push, but the button is no block."""
    wanted = TASK_OBJECTS[task_id]
    return None if named & set(wanted) else " or ".join(wanted)


def _colour_for(task_id: str, named: list[str]) -> str | None:
    return (named[0] if named else COLOURS[0]) if task_id in BLOCK_TASKS else None


def _colour_list() -> str:
    return ", ".join(COLOURS[:-1]) + " and " + COLOURS[-1]


def train_command_parser(seed: int = 0, backend: str = "minilm") -> CommandParser:
    """Train the task classifier on the training phrasings only, then pick the thresholds on the
    validation phrasings and the tuning commands. Deterministic given the seed."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    model = BACKENDS[backend].train(_training_examples(), seed)
    vocabulary = frozenset(w for p, _, _ in labelled_phrasings("train") for w in words(p))
    parser = CommandParser(model, Thresholds(), vocabulary, info={"seed": seed})
    parser.thresholds, tuning = choose_thresholds(parser)
    parser.info["threshold_tuning"] = tuning
    return parser
