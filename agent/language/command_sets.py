"""The commands that train and tune the command parser, and the older report set.

labelled_phrasings(split) gives the desk's own phrasings of its tasks (envs/instructions.py) with
their task and block. The command sets below were each written separately, and each has one job:

* NEGATIVE_TRAIN: trains the classifier's "not a desk task" class (third round, see docs/commands.md).
* UNSUPPORTED_TUNING + AMBIGUOUS_TUNING: choose the two thresholds.
* UNSUPPORTED_REPORT + AMBIGUOUS_REPORT: only measure the rejection rate. Their mistakes were read
  while the third round was designed, so their figure is no longer a clean held-out one.

The sets written blind, which only measure the rejection rate, are in
agent/language/blind_command_sets.py.
"""

from __future__ import annotations

from envs.instructions import phrasings
from envs.tasks import ALL_TASKS


def labelled_phrasings(split: str) -> list[tuple[str, str, str | None]]:
    """(phrasing, task id, block colour or None) for every phrasing of every task in a split
    ("train" or "validation")."""
    return [(p, t.id, t.block) for t in ALL_TASKS for p in phrasings(t, split)]


# Commands that are not one desk task, as training examples of the classifier's reject class. Written
# for the third round, apart from the sets below; none of them is in a tuning or report set.
NEGATIVE_TRAIN: tuple[str, ...] = (
    # actions the desk cannot do with its own things
    "kick the drawer", "paint the button green", "sniff the red block", "bite the green block",
    "hammer the blue block", "glue the drawer shut forever", "smell the lamp", "shake the table",
    "tickle the button", "hug the lamp", "carve a name into the desk", "melt the red block",
    "spin the blue block like a top", "bounce the green block", "hide the drawer", "sell the lamp",
    "photograph the drawer", "wash the red block", "dust the lamp shade", "oil the drawer rails",
    "repair the button", "replace the lamp", "move the lamp to the corner", "rotate the drawer",
    "flip the table over", "tape the button down", "stick a label on the drawer", "measure the blue block",
    "weigh the green block", "balance the red block on the lamp", "tilt the lamp", "unplug the lamp",
    "lift the table", "push the table", "open the button", "close the lamp", "lift the drawer off its rails",
    "push the lamp over", "slide the lamp left", "put the lamp in the drawer", "take the button off",
    "squeeze the red block", "roll the green block", "toss the blue block in the air", "drop the red block",
    "stack the blocks in a tower", "line up the blocks", "sort the blocks by colour", "count the drawers",
    "describe the green block", "look at the drawer", "stare at the lamp", "point at the button",
    "wave at the red block", "clean the drawer", "empty the drawer onto the floor", "fill the drawer with water",
    "put the blue block behind the lamp", "put the red block on the button", "put the green block next to the lamp",
    "push the blue block forward", "pull the red block towards you", "push the green block away from you",
    "lift the drawer", "raise the lamp", "press the drawer", "press the red block", "tap the blue block",
    # no single task: underspecified or ambiguous
    "the button", "button", "a block", "the blocks", "blocks", "the table", "lamp please", "the light",
    "move the red block around", "grab the green block", "do something with the blue block", "put the red block down",
    "shove the green block", "push the blue block somewhere", "slide the red block a bit", "play with the drawer",
    "use the button", "do the blue block", "go to the drawer", "reach for the green block", "touch the red block",
    "touch the drawer", "handle the blue block", "fiddle with the lamp", "the drawer now", "open",
    "close", "lift", "push it", "put it in", "take it out", "do it again", "and then", "something with the lamp",
    # several tasks at once, or in order
    "open the drawer and lift the green block", "close the drawer and push the button",
    "press the button then open the drawer", "lift the blue block and then push it left",
    "push the red block left and the green block right", "open and close the drawer",
    "take the blue block out and close the drawer", "press the button twice", "open the drawer twice",
    "first open the drawer then put the red block in it", "push the green block right then lift it",
    "close the drawer after pressing the button", "open the drawer and put the blue block in the drawer",
    # questions, statements, chit-chat
    "is the drawer open", "where is the red block", "what colour is the lamp", "how many blocks are there",
    "why is the drawer closed", "is the lamp on", "the button is red", "the green block is on the table",
    "i like the blue block", "the drawer looks heavy", "thank you for lifting the block", "nice drawer",
    "hello robot", "good morning", "what can you do", "are you there", "stop", "wait", "help",
)

# Commands the desk cannot carry out. The two sets were written separately: the tuning set picks the
# thresholds, the report set only measures the rejection rate and is never used to choose anything.
UNSUPPORTED_TUNING: tuple[str, ...] = (
    "make me a coffee", "open the window", "stack the red block on the blue one", "lift the yellow block",
    "asdf qwerty zxcv", "what is the weather like today", "close the door", "turn on the television",
    "tell me a joke", "throw the green block across the room", "paint the blue block yellow",
    "push the purple block left", "put the orange block in the drawer", "sing a song", "water the plants",
    "open the fridge", "clean the table", "how are you", "book a flight to paris", "delete all my files",
    "break the drawer", "eat the red block", "rotate the blue block", "put the red block on top of the green block",
    "wave hello", "dance for me", "lock the door", "zzz", "hjkl uiop", "the quick brown fox jumps over the lazy dog",
    "play some music", "call my mother", "fold the laundry", "lift the black block", "spin around",
    "shut down the computer", "order a pizza", "open the lid of the box", "bring me the blue cup", "feed the cat",
    "make me a sandwich", "open the curtains", "stack the green block on the red one", "lift the purple block",
    "qwop lkjh mnbv", "what time is it", "close the window", "turn up the volume", "write me a poem",
    "kick the blue block off the desk", "push the pink block right", "take the white block out of the drawer",
    "vacuum the floor", "open the garage", "wash the dishes", "who won the game last night",
    "send an email to my boss", "smash the lamp", "put the green block under the table", "juggle the blocks",
    "stand on one leg", "unlock the front door", "xyzzy plugh", "colorless green ideas sleep furiously",
    "drive me to work", "sweep the desk", "lift the orange block", "open a new tab in the browser",
    "hand me the scissors", "tie my shoes", "pour a glass of water", "paint the drawer blue",
    "translate this into french", "turn the red block upside down", "charge your battery", "knit a scarf",
    "empty the trash", "swap the red and blue blocks", "close the laptop", "fix the lamp",
)
# Commands that name desk things but not one task: underspecified, ambiguous, compound or negated.
# Added to the two sets above in a second round (see docs/commands.md), written separately as well.
AMBIGUOUS_TUNING: tuple[str, ...] = (
    "push the red block", "the drawer", "drawer", "move the blue block", "do something with the drawer",
    "open the drawer and press the button", "don't open the drawer", "put the green block", "use the drawer",
    "move the drawer", "take the red block", "the green block", "slide the blue block", "do not press the button",
    "the drawer please", "lift the red block and open the drawer",
)
AMBIGUOUS_REPORT: tuple[str, ...] = (
    "shift the green block", "the red block", "do the drawer", "open the drawer then close it",
    "never press the button", "nudge the blue block", "handle the drawer", "the lamp",
    "press the button and lift the red block", "don't lift the blue block", "work the drawer",
    "move the green block somewhere",
)
UNSUPPORTED_REPORT: tuple[str, ...] = (
    "bake a cake", "open the front gate", "put the blue block on the green block", "lift the grey block",
    "blorf snaggle wimp", "set an alarm for seven", "close the cupboard", "switch off the oven",
    "read me the news", "throw the red block at the wall", "push the yellow block left",
    "put the silver block in the drawer", "mow the lawn", "open the bottle", "dim the screen",
    "what is two plus two", "pay the electricity bill", "lick the button", "balance the blue block on its corner",
    "count the blocks", "look out of the window", "close your eyes", "qqqq wwww", "the drawer is made of wood",
    "take me home", "wipe the table clean", "push the brown block right", "remind me to buy milk",
    "pass me the salt", "polish my boots", "boil some water", "lock the drawer with a key", "scan this document",
    "hide the green block under the lamp", "take a photo of the blue block", "buy a new lamp", "clap your hands",
    "stack all the blocks", "jump up and down", "unscrew the lamp bulb",
)
