"""Instructions for every task: training phrasings and a separate validation set.

No model may train on the validation phrasings; they measure how well command
understanding generalises to wordings it never saw. `{colour}` is filled in for the
block tasks.
"""

from __future__ import annotations

from envs.tasks import Task

TRAIN: dict[str, tuple[str, ...]] = {
    "open_drawer": (
        "open the drawer", "pull the drawer open", "open the drawer please", "slide the drawer out",
        "pull out the drawer", "please open the drawer", "get the drawer open", "drawer open",
        "pull the drawer towards you", "can you open the drawer",
    ),
    "close_drawer": (
        "close the drawer", "push the drawer closed", "shut the drawer", "slide the drawer in",
        "push in the drawer", "please close the drawer", "get the drawer closed", "drawer closed",
        "push the drawer shut", "can you close the drawer",
    ),
    "press_button": (
        "press the button", "push the button", "hit the button", "press down on the button",
        "please press the button", "toggle the lamp", "switch the light", "push the red button",
        "click the button", "can you press the button",
    ),
    "lift_block": (
        "lift the {colour} block", "pick up the {colour} block", "raise the {colour} block",
        "grab the {colour} block and lift it", "pick the {colour} block up", "lift up the {colour} block",
        "take the {colour} block off the table", "hold the {colour} block up in the air",
        "please lift the {colour} block", "can you pick up the {colour} block",
    ),
    "push_block_left": (
        "push the {colour} block left", "push the {colour} block to the left", "slide the {colour} block left",
        "move the {colour} block to the left", "shove the {colour} block leftwards",
        "nudge the {colour} block to the left", "push the {colour} block towards the left side",
        "please push the {colour} block left", "slide the {colour} block over to the left",
        "can you push the {colour} block to the left",
    ),
    "push_block_right": (
        "push the {colour} block right", "push the {colour} block to the right", "slide the {colour} block right",
        "move the {colour} block to the right", "shove the {colour} block rightwards",
        "nudge the {colour} block to the right", "push the {colour} block towards the right side",
        "please push the {colour} block right", "slide the {colour} block over to the right",
        "can you push the {colour} block to the right",
    ),
    "put_block_in_drawer": (
        "put the {colour} block in the drawer", "place the {colour} block in the drawer",
        "put the {colour} block into the drawer", "drop the {colour} block in the drawer",
        "store the {colour} block in the drawer", "move the {colour} block into the drawer",
        "please put the {colour} block in the drawer", "stow the {colour} block in the drawer",
        "pick up the {colour} block and put it in the drawer", "can you place the {colour} block inside the drawer",
    ),
    "take_block_out": (
        "take the {colour} block out of the drawer", "remove the {colour} block from the drawer",
        "get the {colour} block out of the drawer", "take out the {colour} block",
        "pull the {colour} block out of the drawer", "lift the {colour} block out of the drawer",
        "please take the {colour} block out of the drawer", "fetch the {colour} block from the drawer",
        "grab the {colour} block from the drawer and put it on the table",
        "can you take the {colour} block out of the drawer",
    ),
}

VALIDATION: dict[str, tuple[str, ...]] = {
    "open_drawer": ("could you pull that drawer open for me", "yank the drawer open", "draw the drawer out",
                    "I want the drawer opened"),
    "close_drawer": ("could you push that drawer shut for me", "slam the drawer closed", "tuck the drawer back in",
                     "I want the drawer closed"),
    "press_button": ("tap the button", "could you push that button for me", "flip the lamp with the button",
                     "give the button a press"),
    "lift_block": ("hoist the {colour} block", "could you raise that {colour} block for me",
                   "elevate the {colour} block", "get the {colour} block up off the desk"),
    "push_block_left": ("scoot the {colour} block leftward", "could you slide that {colour} block to your left",
                        "move the {colour} block a bit left", "give the {colour} block a push to the left"),
    "push_block_right": ("scoot the {colour} block rightward", "could you slide that {colour} block to your right",
                         "move the {colour} block a bit right", "give the {colour} block a push to the right"),
    "put_block_in_drawer": ("stash the {colour} block in the drawer", "could you drop that {colour} block into the drawer",
                            "the {colour} block goes in the drawer", "tuck the {colour} block away in the drawer"),
    "take_block_out": ("retrieve the {colour} block from the drawer", "could you get that {colour} block out of the drawer",
                       "the {colour} block should come out of the drawer", "unpack the {colour} block from the drawer"),
}


def phrasings(task: Task, split: str = "train") -> list[str]:
    """The phrasings of one task (with its colour filled in) from the train or validation split."""
    table = {"train": TRAIN, "validation": VALIDATION}.get(split)
    if table is None:
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    return [p.format(colour=task.block) if task.block else p for p in table[task.id]]
