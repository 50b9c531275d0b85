"""The shipped agent carrying out commands in words, one after another in one scene.

    python demos/agent_commands.py "open the drawer" "press the button"
"""

from __future__ import annotations

import argparse

from agent.command import SHIPPED, CommandSession, command_config
from agent.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commands", nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = command_config(load_config(), SHIPPED)
    session = CommandSession.open(SHIPPED, config, seed=args.seed)
    try:
        for i, text in enumerate(args.commands):
            outcome = session.run(text, fresh_scene=i == 0,
                                  on_narration=lambda line: print(f"  [{line.time_s:5.2f} s] {line.text}"))
            if outcome.refused:
                print(f"{text!r}: refused ({outcome.refused})")
            else:
                e = outcome.episode
                print(f"{text!r}: {'done' if e.success else 'not done'} after {e.steps} steps")
    finally:
        session.close()


if __name__ == "__main__":
    main()
