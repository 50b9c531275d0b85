"""The shipped agent carries stage manifests: every shipped file is checked when it loads."""

import shutil

import pytest

from agent.integrity import IntegrityError, recreate_command, verify_stage
from agent.rl.policy import load_policy
from agent.shipping import SHIPPED

pytestmark = pytest.mark.faults


def test_shipped_stage_folders_verify():
    for stage in ("encoder", "language", "rl"):
        assert verify_stage(SHIPPED / stage), stage


def test_a_flipped_byte_in_a_shipped_policy_is_refused(tmp_path):
    copy = tmp_path / "shipped"
    shutil.copytree(SHIPPED, copy)
    weights = copy / "rl" / "policy.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="policy.safetensors"):
        load_policy(copy / "rl")


def test_the_shipped_agent_is_restored_not_retrained():
    assert "git checkout -- agent/shipped" in recreate_command(SHIPPED / "rl", "rl")
