import pytest
import yaml

from agent.config import ConfigError, RunConfig, load_config, save_config


def test_defaults_and_shipped_configs_load(tiny_config_path):
    assert load_config() == RunConfig()
    tiny = load_config(tiny_config_path)
    assert tiny.env.fovea_size == 16
    default = load_config(tiny_config_path.parent / "default.yaml")
    assert default.env.fovea_size == 32


def _write(tmp_path, data):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_names_key_and_file(tmp_path):
    path = _write(tmp_path, {"env": {"fovea_sise": 32}})
    with pytest.raises(ConfigError, match=r"c\.yaml.*env\.fovea_sise"):
        load_config(path)


def test_wrong_type_names_key(tmp_path):
    with pytest.raises(ConfigError, match=r"env\.fovea_size: expected int, got str"):
        load_config(_write(tmp_path, {"env": {"fovea_size": "big"}}))
    with pytest.raises(ConfigError, match=r"seed: expected int, got bool"):
        load_config(_write(tmp_path, {"seed": True}))
    with pytest.raises(ConfigError, match=r"env: expected a mapping"):
        load_config(_write(tmp_path, {"env": 3}))


def test_bad_value_is_rejected_with_its_section(tmp_path):
    with pytest.raises(ConfigError, match=r"env: .*unknown task"):
        load_config(_write(tmp_path, {"env": {"task": "juggle"}}))
    with pytest.raises(ConfigError, match=r"capsules: .*streams"):
        load_config(_write(tmp_path, {"capsules": {"streams": ["retina"]}}))
    assert load_config(overrides=["capsules.streams=[fovea]"]).capsules.streams == ["fovea"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_overrides(tiny_config_path):
    c = load_config(tiny_config_path, ["env.fovea_size=24", "seed=9", "env.task=lift_block:red"])
    assert (c.env.fovea_size, c.seed, c.env.task) == (24, 9, "lift_block:red")
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(tiny_config_path, ["seed"])


def test_saved_config_loads_back_identically(tmp_path, tiny_config_path):
    c = load_config(tiny_config_path, ["seed=4"])
    path = save_config(c, tmp_path / "resolved.yaml")
    assert load_config(path) == c
