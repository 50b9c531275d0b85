"""Learning stages need no simulator: the language stage trains and evaluates with pybullet unimportable
(as on the GPU machine)."""

import shutil
import subprocess
import sys

SCRIPT = """
import sys
sys.modules["pybullet"] = None  # any `import pybullet` now raises ImportError
sys.modules["pybullet_data"] = None
from agent.config import load_config
from agent.stages import run_stage
from agent.language.narrator_training import evaluate_narrator
from agent.language.reward_training import evaluate_reward
from pathlib import Path
config = load_config(sys.argv[1], ["run_dir=" + sys.argv[2]])
run_stage(config, "language")
evaluate_narrator(config, Path(sys.argv[2]))
evaluate_reward(config, Path(sys.argv[2]))
print("ok", "pybullet" in sys.modules and sys.modules["pybullet"] is not None)
"""


def test_language_stage_without_pybullet(tiny_run, tiny_config_path, tmp_path):
    _, run_dir, _ = tiny_run
    run = tmp_path / "run"
    for stage in ("collect", "encoder"):
        shutil.copytree(run_dir / stage, run / stage)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_config_path), str(run)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok False")
