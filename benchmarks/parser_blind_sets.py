"""The command parser on every blind set: exact, refused, opposite and confident wrong mappings.

    python benchmarks/parser_blind_sets.py [--parser agent/shipped/language/commands]
        [--out benchmarks/results/parser_blind_g.json]

Loads a saved parser (default: the shipped one) and runs its evaluation
(agent/language/command_eval.py evaluate_command_parser) once. Writes, per blind set (with the
round it was written for) and for the validation and development phrasings: the share of supported
commands mapped exactly, the share of unsupported ones refused, and the opposite and confident wrong
mappings with the commands themselves; then the totals over the blind sets. The full evaluation
(every split's mistakes) is under "evaluation".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FIGURES = ("written_for", "supported", "exact", "exact_count", "supported_refused", "unsupported", "refused",
           "refused_count", "opposite_mappings", "confident_wrong_mappings", "opposite_mapping_commands",
           "confident_wrong_commands")


def main() -> None:
    import torch

    from agent.language.blind_command_sets import BLIND_SETS
    from agent.language.command_eval import evaluate_command_parser
    from agent.language.commands import CommandParser

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parser", type=Path, default=Path("agent/shipped/language/commands"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    report = evaluate_command_parser(CommandParser.load(args.parser))
    sets = {name: {k: m[k] for k in FIGURES} for name, m in report["mapping_mistakes"].items()}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"command": " ".join(["python", "benchmarks/parser_blind_sets.py", *sys.argv[1:]]),
           "parser": str(args.parser), "git_commit": commit, "seconds": round(time.perf_counter() - start, 1),
           "blind_sets": {k: sets[k] for k in BLIND_SETS},
           "blind_totals": report["blind_totals"],
           "other_sets": {k: v for k, v in sets.items() if k not in BLIND_SETS},
           "totals_all_sets": {"opposite_mappings": report["opposite_mappings"],
                               "confident_wrong_mappings": report["confident_wrong_mappings"]},
           "evaluation": report}
    text = json.dumps(out, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    for name, m in sets.items():
        exact = "" if m["exact"] is None else f"exact {m['exact']:.3f} ({m['exact_count']}/{m['supported']})"
        refused = "" if m["refused"] is None else f"refused {m['refused']:.3f} ({m['refused_count']}/{m['unsupported']})"
        print(f"{name:12s} {exact:28s} {refused:28s} opposite {m['opposite_mappings']}, "
              f"confident wrong {m['confident_wrong_mappings']}")


if __name__ == "__main__":
    main()
