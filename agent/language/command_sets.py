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


# A development set for the compositional reading of round five (issue 11): written by a helper who
# read no file of the project, given the desk's description and its tasks. Unlike the blind sets, it
# is used to design and tune the word resolution (agent/language/text.py desk_words) and the
# thresholds, so its figures are not held out.
DEV_PARAPHRASE_SET_D: tuple[tuple[str, str, str | None], ...] = (
    ("Could you pull the drawer open for me?", "open_drawer", None),
    ("slide the drawer out", "open_drawer", None),
    ("Please open up the compartment.", "open_drawer", None),
    ("I need the drawer opened, please.", "open_drawer", None),
    ("Pull out the desk drawer.", "open_drawer", None),
    ("drawer open, now", "open_drawer", None),
    ("Would you mind opening the drawer?", "open_drawer", None),
    ("Get the drawer open.", "open_drawer", None),
    ("The drawer should be open.", "open_drawer", None),
    ("Go ahead and pull the compartment open.", "open_drawer", None),
    ("Shut the drawer, please.", "close_drawer", None),
    ("push the drawer closed", "close_drawer", None),
    ("Could you slide the drawer shut?", "close_drawer", None),
    ("Close up the compartment.", "close_drawer", None),
    ("The drawer needs to be closed.", "close_drawer", None),
    ("Please shove the drawer back in.", "close_drawer", None),
    ("drawer shut", "close_drawer", None),
    ("Would you kindly close the drawer for me?", "close_drawer", None),
    ("Push the compartment shut.", "close_drawer", None),
    ("Make sure the drawer is closed.", "close_drawer", None),
    ("Hit the button.", "press_button", None),
    ("Could you push the button, please?", "press_button", None),
    ("Switch on the lamp.", "press_button", None),
    ("Turn the light off.", "press_button", None),
    ("Tap the switch.", "press_button", None),
    ("The lamp should be on.", "press_button", None),
    ("Please click the button on the desk.", "press_button", None),
    ("Toggle the light.", "press_button", None),
    ("I'd like the lamp turned on, please.", "press_button", None),
    ("Give that button a press.", "press_button", None),
    ("Pick up the ruby cube.", "lift_block", "red"),
    ("Could you raise the red brick off the desk?", "lift_block", "red"),
    ("hoist the cherry-coloured block", "lift_block", "red"),
    ("Lift the red one up, please.", "lift_block", "red"),
    ("Please pick the emerald cube up.", "lift_block", "green"),
    ("Raise the lime piece into the air.", "lift_block", "green"),
    ("grab the green box and hold it up", "lift_block", "green"),
    ("Elevate the cobalt cube.", "lift_block", "blue"),
    ("Would you lift up the sky blue block?", "lift_block", "blue"),
    ("Pick the navy brick up off the table.", "lift_block", "blue"),
    ("Slide the crimson cube to the left.", "push_block_left", "red"),
    ("Nudge the red brick leftward.", "push_block_left", "red"),
    ("Shove the scarlet piece over to the left, please.", "push_block_left", "red"),
    ("Push the jade block toward the left side.", "push_block_left", "green"),
    ("Could you move the green cube to the left?", "push_block_left", "green"),
    ("scoot the lime box left", "push_block_left", "green"),
    ("Give the green one a push to the left.", "push_block_left", "green"),
    ("Slide the azure cube leftwards.", "push_block_left", "blue"),
    ("Please nudge the blue brick a bit to the left.", "push_block_left", "blue"),
    ("Push the sapphire piece to your left.", "push_block_left", "blue"),
    ("Slide the cherry cube to the right.", "push_block_right", "red"),
    ("Nudge the ruby block rightward.", "push_block_right", "red"),
    ("Could you shove the red piece over to the right?", "push_block_right", "red"),
    ("Push the emerald brick toward the right.", "push_block_right", "green"),
    ("scoot the green cube right", "push_block_right", "green"),
    ("Move the forest green block to the right, please.", "push_block_right", "green"),
    ("Push the cobalt box to the right.", "push_block_right", "blue"),
    ("Give the blue one a shove to the right.", "push_block_right", "blue"),
    ("Slide the navy cube rightwards.", "push_block_right", "blue"),
    ("Please nudge the sky blue brick over to the right side.", "push_block_right", "blue"),
    ("Stow the red cube in the drawer.", "put_block_in_drawer", "red"),
    ("Drop the scarlet brick into the compartment.", "put_block_in_drawer", "red"),
    ("Could you place the crimson block inside the drawer?", "put_block_in_drawer", "red"),
    ("Put the red one away in the drawer.", "put_block_in_drawer", "red"),
    ("Tuck the lime cube into the drawer.", "put_block_in_drawer", "green"),
    ("Please store the jade piece in the drawer.", "put_block_in_drawer", "green"),
    ("Pop the green box in the drawer.", "put_block_in_drawer", "green"),
    ("Place the blue cube into the compartment.", "put_block_in_drawer", "blue"),
    ("Would you put the azure brick in the drawer?", "put_block_in_drawer", "blue"),
    ("file the cobalt block away in the drawer", "put_block_in_drawer", "blue"),
    ("Take the ruby cube out of the drawer.", "take_block_out", "red"),
    ("Retrieve the red brick from the drawer.", "take_block_out", "red"),
    ("Could you get the cherry block out of the compartment?", "take_block_out", "red"),
    ("Pull the emerald cube out of the drawer.", "take_block_out", "green"),
    ("Fetch the green piece from the drawer.", "take_block_out", "green"),
    ("Remove the lime block from the compartment, please.", "take_block_out", "green"),
    ("Grab the green one out of the drawer.", "take_block_out", "green"),
    ("Get the sapphire cube out of the drawer.", "take_block_out", "blue"),
    ("Please retrieve the blue box from inside the drawer.", "take_block_out", "blue"),
    ("Extract the sky blue brick from the drawer.", "take_block_out", "blue"),
)
DEV_REJECTION_SET_D: tuple[str, ...] = (
    "Stack the red cube on top of the blue one.",
    "Rotate the green block ninety degrees.",
    "Throw the blue cube across the room.",
    "Push the red block forward.",
    "Push the green cube away from you.",
    "Pull the blue block toward you.",
    "Lock the drawer.",
    "Break the button.",
    "Paint the red cube yellow.",
    "Spin the green brick around.",
    "Flip the blue cube upside down.",
    "Remove the drawer from the desk entirely.",
    "Lift the drawer off its rails.",
    "Unplug the lamp.",
    "Dim the lamp a little.",
    "Make the light brighter.",
    "Move the lamp to the other side of the desk.",
    "Put the lamp in the drawer.",
    "Hold the button down for ten seconds.",
    "Clean the desk.",
    "Drop the red cube on the floor.",
    "Smash the green block.",
    "Tilt the lamp toward me.",
    "Balance the blue cube on the lamp.",
    "Line up all three blocks in a row.",
    "Hand me the red cube.",
    "Sort the blocks by colour.",
    "Lift the yellow block.",
    "Push the purple cube to the left.",
    "Put the orange brick in the drawer.",
    "Take the pink cube out of the drawer.",
    "Push the black block to the right.",
    "Open the second drawer.",
    "Close the cabinet door.",
    "Pick up the pen.",
    "Open the window.",
    "Turn on the fan.",
    "Put the mug in the drawer.",
    "Take the scissors out of the drawer.",
    "Lift the white cube.",
    "Press the doorbell.",
    "Switch on the ceiling light.",
    "Open the laptop.",
    "Push the ball to the left.",
    "Lift the fourth block.",
    "Grab the stapler off the desk.",
    "Open the cupboard.",
    "Put the red cube on the chair.",
    "Turn on the TV.",
    "Slide the keyboard to the right.",
    "Take the yellow piece out of the compartment.",
    "Put the book in the drawer.",
    "Press the second button.",
    "Lift the block.",
    "Push the green cube.",
    "Move the blue cube.",
    "Put a block in the drawer.",
    "Take something out of the drawer.",
    "Push one of the cubes to the right.",
    "Open the drawer and press the button.",
    "Lift the red block and then push the blue one left.",
    "Please don't open the drawer.",
    "Do not touch the green cube.",
    "Never press the button.",
    "Is the drawer open?",
    "What colour is the lamp?",
    "How many blocks are on the desk?",
    "Hello there!",
    "Thanks, that's all for now.",
    "How are you today?",
    "asdf qwerty zxcv",
    "blorp flim wazzle",
    "Do something with the drawer.",
    "Move it.",
    "Put all the blocks in the drawer.",
    "Push the cube to the left.",
    "Take them all out of the drawer.",
    "Tell me a joke.",
    "Can you lift blocks?",
    "Close the drawer and turn on the lamp.",
)
