"""--resume with other settings is refused, naming them (unless asked for); a stage that fails leaves
its folder as it found it."""

from dataclasses import replace

import pytest
import yaml
from faultkit import TINY, tiny, tree

from agent.cli import main
from agent.integrity import MANIFEST, verify_stage
from agent.stages import STAGES, StageError, run_stage

pytestmark = pytest.mark.faults


def test_resume_with_another_seed_is_refused_and_changes_nothing(run, capsys):
    before = tree(run)
    with pytest.raises(StageError, match=r"other settings than the checkpoint's \(seed: 0 -> 1\).*--allow-config-change"):
        run_stage(tiny(run, "seed=1"), "encoder", resume=True)
    assert tree(run) == before  # config.yaml not overwritten, manifest still there
    assert main(["train", "encoder", "--resume", "--seed", "1", "--config", str(TINY), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed: 0 -> 1" in err
    assert tree(run) == before


def test_resume_names_every_changed_key(run):
    with pytest.raises(StageError, match=r"encoder\.batch_size: 16 -> 32, encoder\.lr: 0\.001 -> 0\.002"):
        run_stage(tiny(run, "encoder.lr=0.002", "encoder.batch_size=32"), "encoder", resume=True)


def test_resume_ignores_what_the_stage_does_not_read(run):
    # another stage's setting, the device, the worker count: the stage computes the same
    run_stage(tiny(run, "rl.bc_lr=0.5", "device=cpu"), "encoder", resume=True)
    assert verify_stage(run / "encoder")
    assert run_stage(tiny(run, "collect.workers=2"), "collect")["skipped_chunks"] == 3


def test_collect_with_another_seed_is_refused(run):
    """collect continues by itself, without --resume: the check applies to it always."""
    before = tree(run / "collect")
    with pytest.raises(StageError, match=r"seed: 0 -> 3"):
        run_stage(tiny(run, "seed=3"), "collect")
    assert tree(run / "collect") == before


def test_an_explicit_flag_resumes_anyway(run, capsys):
    assert main(["train", "encoder", "--resume", "--allow-config-change", "--set", "encoder.lr=0.002",
                 "--config", str(TINY), "--run-dir", str(run)]) == 0, capsys.readouterr().err
    assert yaml.safe_load((run / "encoder" / "config.yaml").read_text())["encoder"]["lr"] == 0.002
    assert verify_stage(run / "encoder")


def test_a_failed_collect_leaves_no_folder_behind(tmp_path):
    run_dir = tmp_path / "run"
    bad = replace(tiny(run_dir), seed=-1)  # past config validation, as a bug or a new setting could be
    with pytest.raises(Exception):
        run_stage(bad, "collect")
    assert not run_dir.exists()  # no dataset.json of settings that never ran
    assert run_stage(tiny(run_dir), "collect")["collected_chunks"] == 3


def test_a_stage_failing_in_a_used_folder_puts_it_back(run, monkeypatch):
    def fail(config, run_layout, resume, progress):
        (run_layout.encoder / "half.json").write_text("{}")
        (run_layout.encoder / "tb" / "events.new").write_text("x")
        raise RuntimeError("a bug")

    before = tree(run)
    monkeypatch.setitem(STAGES, "encoder", replace(STAGES["encoder"], train=fail))
    with pytest.raises(RuntimeError, match="a bug"):
        run_stage(tiny(run, "encoder.lr=0.005"), "encoder")
    assert tree(run) == before  # config.yaml of the failed settings gone, the manifest back
    assert (run / "encoder" / MANIFEST).exists()


def test_a_stage_failing_after_a_checkpoint_keeps_it(tmp_path, finished_run, monkeypatch):
    """Saved progress is kept, as after Ctrl-C: it is what --resume continues from."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run / "collect", run / "collect")

    def fail(config, run_layout, resume, progress):
        step = run_layout.encoder / "checkpoints" / "step_000003"
        step.mkdir(parents=True)
        (step / "state.json").write_text("{}")
        raise MemoryError

    monkeypatch.setitem(STAGES, "encoder", replace(STAGES["encoder"], train=fail))
    with pytest.raises(MemoryError):
        run_stage(tiny(run), "encoder")
    assert (run / "encoder" / "checkpoints" / "step_000003" / "state.json").exists()
    assert (run / "encoder" / "config.yaml").exists() and not (run / "encoder" / MANIFEST).exists()
