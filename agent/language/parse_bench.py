"""How fast a typed command is understood: `saccade bench parse`.

* cold: wall time of a whole `saccade parse TEXT --json` process (imports, loading the parser and
  MiniLM, parsing), the median of several runs; what a user waits for at the shell.
* at the prompt: time per command once everything is loaded (`saccade command` with no text), over
  the development set D's commands, each parsed once.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

COLD_RUNS = 5
COLD_TEXT = "could you put the crimson cube into the drawer"


def bench_parse(run_dir: str | Path, config_path: str | None = None) -> dict:
    import torch

    from agent.language.command_sets import DEV_PARAPHRASE_SET_D, DEV_REJECTION_SET_D
    from agent.language.commands import CommandParser

    folder = Path(run_dir) / "language" / "commands"
    parser = CommandParser.load(folder)
    cli = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())", "parse", COLD_TEXT,
           "--json", "--run", str(run_dir)] + (["--config", str(config_path)] if config_path else [])
    cold = []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        done = subprocess.run(cli, check=False, capture_output=True, text=True)
        cold.append(time.perf_counter() - start)
        if done.returncode not in (0, 2):  # 2: the command was refused, which is a parse too
            raise RuntimeError(f"saccade parse failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        parser.warm_up()  # as the prompt does before its first command
        per_command = []
        for text in (*(t for t, _, _ in DEV_PARAPHRASE_SET_D), *DEV_REJECTION_SET_D):
            start = time.perf_counter()
            parser.parse(text)
            per_command.append((time.perf_counter() - start) * 1000)
    finally:
        torch.set_num_threads(threads)
    return {"cold_parse_s_median": round(statistics.median(cold), 3), "cold_parse_s_max": round(max(cold), 3),
            "cold_runs": COLD_RUNS, "prompt_ms_median": round(statistics.median(per_command), 2),
            "prompt_ms_p95": round(sorted(per_command)[int(0.95 * len(per_command))], 2),
            "prompt_ms_max": round(max(per_command), 2), "prompt_commands": len(per_command),
            "goals": {"cold_parse_s": 2.5, "prompt_ms": 50}}


def format_parse_bench(r: dict) -> str:
    return (f"saccade parse, cold: {r['cold_parse_s_median']:.2f} s median of {r['cold_runs']} "
            f"(max {r['cold_parse_s_max']:.2f} s; goal <= 2.5 s)\n"
            f"at the prompt: {r['prompt_ms_median']:.1f} ms median, {r['prompt_ms_p95']:.1f} ms p95, "
            f"{r['prompt_ms_max']:.1f} ms max per command over {r['prompt_commands']} commands (goal <= 50 ms)")
