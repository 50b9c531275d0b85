"""Every band of layout seeds the project draws from, and the other fixed seed offsets.

A layout is what `DeskEnv.reset(seed=...)` builds from its seed alone, so two uses of one seed see
one layout. Each use that must not share layouts with another (training against held-out
evaluation, one recipe's choice against the figures quoted) has a band of its own here. Values are
fixed: the shipped models and the results in benchmarks/results were made with them.

    python -m agent.seeds    # the bands as the markdown table of docs/design-notes.md

A band's size is how far the code may reach from its start: where a count is capped (PPO_SEEDS,
LOOP_TRAIN_SEEDS; the config's limits on demonstrations, DAgger rounds and bank episodes) the cap,
elsewhere the room up to the next band (nothing keeps, say, `--episodes` below it). `check_bands`
refuses two bands that overlap, but for the overlaps listed in SHARED, each with why it is harmless.

Seeds that are not a band of layouts, listed here so that this file is the whole picture:
- play data (agent/data/collect.py) draws each episode's layout uniformly from [0, PLAY_LAYOUT_SEEDS),
  across every band. The evaluations use some 1,500 layouts at their default counts, so with the
  default 1,200 play episodes the expected number shared is about 1,200 x 1,500 / 2^31 = 0.001; for
  run seed 0, 8 play layouts fall inside a band's range and none on a layout that is used.
- `saccade demo` / `saccade command` use the run seed (config.seed) as the layout, and a command
  session's next scene the seed after it; `saccade eval expert` uses expert_eval.seed + i, i below
  expert_eval.episodes (default 0..99). Users choose these; they are not held out from anything.
- offsets on the run seed that seed random streams, not layouts: the small ones stay in their
  modules (config.seed + 1 samples a test split, + 2 a validation split; SB3 seeds PPO's environment
  i with config.seed + i), the larger ones are below (PPO_EVAL_SEED_OFFSET keeps the EvalCallback's
  stream apart from those while ppo_envs < 7,919; ENCODER_EVAL_TORCH_SEED_OFFSET;
  ATTENTION_ENV_SEED_STRIDE).
- envs/ defines no seed constants (it may not import agent: the import-linter contract "world").

Core layer: this module imports nothing from agent or envs.
"""

from __future__ import annotations

# --- layout bands (first seed of each); the table below gives each one's size ---
DEMO_SEED_BASE = 1_000_000  # demonstrations and DAgger rounds (agent.rl.demos.collect_demos): base + episode
DAGGER_EPISODE_OFFSET = 100_000  # DAgger round r numbers its episodes (so its layouts) from r times this
PPO_SEED_BASE = 3_000_000  # PPO's environments and its EvalCallback (agent.rl.env.CommandEnv.reset)
PPO_SEEDS = 1_000_000  # CommandEnv draws a layout uniformly from PPO_SEED_BASE + [0, PPO_SEEDS)
EVAL_SEED_BASE = 5_000_000  # `saccade eval agent` success per task, latency; benchmarks/score_policy.py
CHAIN_SEED_BASE = 6_000_000  # `saccade eval agent` chains of five commands (agent.rl.evaluate.chains)
FRESH_SEED_BASE = 7_000_000  # layouts no recipe choice looked at: score_policy.py --fresh, capsule-memory seeds
NARRATOR_SEED_BASE = 8_000_000  # narrator on the agent's episodes, where its adaptation's recipe was chosen
NARRATOR_FRESH_SEED_BASE = 8_500_000  # narrator on the agent's episodes, the figures quoted (narrator_on_agent)
NARRATION_SEED_BASE = 9_000_000  # the agent's episodes the narrator is adapted on (agent.rl.narration)
AGENT_EPISODES_TASK_STRIDE = 1_000  # agent_episodes: task t's k-th layout is band + t * this + k
BANK_TRAIN_SEED_BASE = 10_000_000  # glimpse bank, train split (agent.attention.bank): base + episode
BANK_VALIDATION_SEED_BASE = 10_300_000  # glimpse bank, validation split (chooses the shipped reward kind)
BANK_TEST_SEED_BASE = 10_600_000  # glimpse bank, test split (`saccade eval attention` only)
LOOP_SEED_BASE = 11_000_000  # `saccade eval attention`: the gaze policies with the acting agent, in the loop
GAZE_PATHS_SEED_BASE = 11_500_000  # the gaze-path pictures (agent.attention.pictures.draw_gaze_paths)
LOOP_VALIDATION_SEED_BASE = 11_700_000  # benchmarks/attention_in_loop.py: whether in-loop fine-tuning helps
LOOP_TRAIN_SEED_BASE = 12_000_000  # the gaze policy fine-tuned in the loop (agent.attention.loop.LoopGazeEnv)
LOOP_TRAIN_SEEDS = 1_000_000  # LoopGazeEnv draws a layout uniformly from LOOP_TRAIN_SEED_BASE + [0, this)
PAIRS_TRAIN_SEED_BASE = 12_000_000  # capsules' glimpse pairs, train scenes (agent.perception.pairs): base + scene
PAIRS_TEST_SEED_BASE = 12_300_000  # capsules' glimpse pairs, held-out scenes (the equivariance error)
TEACHER_SEED_BASE = 13_000_000  # benchmarks/teacher.py: the Markov teacher checked (nothing trained there)
RECIPE_SEED_BASE = 14_000_000  # choosing between imitation recipes (benchmarks/agent_recipe.py)
GAZE_PROBE_SEED_BASE = 20_000_000  # benchmarks/gaze_probe.py: the teacher's episodes a gaze probe reads

# --- seeds of random streams, not layouts ---
PLAY_LAYOUT_SEEDS = 2 ** 31  # play data: episode e's layout is drawn from [0, this) by rng([config.seed, e])
PPO_EVAL_SEED_OFFSET = 7_919  # PPO's EvalCallback environment is seeded config.seed + this (agent.rl.ppo)
ENCODER_EVAL_TORCH_SEED_OFFSET = 12_345  # torch seed of the encoder evaluation's baselines: config.seed + this
ATTENTION_ENV_SEED_STRIDE = 1_000  # attention PPO environment i is seeded config.seed * this + i

# (constant, size or None for open-ended, what draws from it): the rows of the table
_BANDS: tuple[tuple[str, int | None, str], ...] = (
    ("DEMO_SEED_BASE", 10 * DAGGER_EPISODE_OFFSET,
     "demonstrations; DAgger round r from + r x 100,000 (config: under 100,000 episodes a round, 9 rounds)"),
    ("PPO_SEED_BASE", PPO_SEEDS, "PPO, drawn uniformly; PPO's EvalCallback too, on a stream of its own"),
    ("EVAL_SEED_BASE", 1_000_000, "`saccade eval agent`: success per task (the same layouts for every task)"),
    ("CHAIN_SEED_BASE", 1_000_000, "`saccade eval agent`: chains"),
    ("FRESH_SEED_BASE", 1_000_000, "fresh layouts no recipe choice looked at (score_policy.py --fresh)"),
    ("NARRATOR_SEED_BASE", 500_000, "narrator on the agent's episodes: its adaptation's recipe chosen here"),
    ("NARRATOR_FRESH_SEED_BASE", 500_000, "narrator on the agent's episodes: the figures quoted"),
    ("NARRATION_SEED_BASE", 1_000_000, "the agent's episodes the narrator is adapted on (`saccade train rl`)"),
    ("BANK_TRAIN_SEED_BASE", 100_000, "glimpse bank, train (config: under 100,000 episodes a split)"),
    ("BANK_VALIDATION_SEED_BASE", 100_000, "glimpse bank, validation (chooses the shipped reward kind)"),
    ("BANK_TEST_SEED_BASE", 100_000, "glimpse bank, test (`saccade eval attention`)"),
    ("LOOP_SEED_BASE", 500_000, "`saccade eval attention`: gaze policies acting with the agent"),
    ("GAZE_PATHS_SEED_BASE", 4, "the gaze-path pictures, one layout for each of their 4 tasks"),
    ("LOOP_VALIDATION_SEED_BASE", 300_000, "benchmarks/attention_in_loop.py: in-loop fine-tuning judged"),
    ("LOOP_TRAIN_SEED_BASE", LOOP_TRAIN_SEEDS, "the gaze policy fine-tuned in the loop, drawn uniformly"),
    ("PAIRS_TRAIN_SEED_BASE", 300_000, "capsules' glimpse pairs, train scenes"),
    ("PAIRS_TEST_SEED_BASE", 700_000, "capsules' glimpse pairs, held-out scenes"),
    ("TEACHER_SEED_BASE", 1_000_000, "benchmarks/teacher.py: the Markov teacher, clean, noisy, chain starts"),
    ("RECIPE_SEED_BASE", 1_000_000, "choosing between imitation recipes (benchmarks/agent_recipe.py)"),
    ("GAZE_PROBE_SEED_BASE", 1_000_000, "benchmarks/gaze_probe.py: where the frozen features put the object"),
)

# Overlaps allowed, with why each is harmless; check_bands refuses any other (and one listed here
# that no longer overlaps, so that the list stays true).
SHARED: dict[frozenset[str], str] = {
    frozenset({"LOOP_TRAIN_SEED_BASE", "PAIRS_TRAIN_SEED_BASE"}):
        "both train, different models: the loop fine-tunes the gaze policy, which reads no capsules",
    frozenset({"LOOP_TRAIN_SEED_BASE", "PAIRS_TEST_SEED_BASE"}):
        "the capsules are tested there, but the loop trains the gaze policy only, never the capsules",
}


def bands() -> list[tuple[str, int, int | None, str]]:
    """(constant, first seed, size or None for open-ended, what draws from it), by first seed."""
    return sorted(((name, globals()[name], size, what) for name, size, what in _BANDS), key=lambda b: (b[1], b[0]))


def overlaps() -> set[frozenset[str]]:
    """The pairs of bands that share a seed."""
    rows, out = bands(), set()
    for i, (a, start_a, size_a, _) in enumerate(rows):
        end_a = float("inf") if size_a is None else start_a + size_a
        for b, start_b, _, _ in rows[i + 1:]:  # sorted by start: b starts at or after a
            if start_b < end_a:
                out.add(frozenset({a, b}))
    return out


def check_bands() -> None:
    """Raise ValueError on an overlap not listed in SHARED, or on a listed one that is gone."""
    found = overlaps()
    new, gone = found - SHARED.keys(), SHARED.keys() - found
    if new or gone:
        raise ValueError("seed bands: " + "; ".join(
            [f"{' and '.join(sorted(p))} overlap" for p in new] +
            [f"{' and '.join(sorted(p))} are listed in SHARED but no longer overlap" for p in gone]))


def table() -> str:
    """The bands as a markdown table (docs/design-notes.md holds this output)."""
    lines = ["| seeds | constant (agent/seeds.py) | used for |", "| --- | --- | --- |"]
    for name, start, size, what in bands():
        span = f"{start:,} +" if size is None else f"{start:,} to {start + size - 1:,}"
        lines.append(f"| {span} | `{name}` | {what} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    check_bands()
    print(table(), end="")
