import numpy as np

ACTIONS = np.random.default_rng(7).uniform(-1, 1, size=(40, 7)).astype(np.float32)


def _rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, *_ = env.step(a)
        out.append(obs)
    return out


def _same(a, b):
    return all(all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b))


def test_same_seed_same_actions_identical_observations(make_env):
    a = _rollout(make_env(active_gaze=True, include_state=True), 3, ACTIONS)
    b = _rollout(make_env(active_gaze=True, include_state=True), 3, ACTIONS)
    assert _same(a, b)


def test_reset_of_a_used_env_matches_a_fresh_env(make_env):
    used = make_env(active_gaze=True, include_state=True)
    _rollout(used, 11, ACTIONS)  # an unrelated episode first
    again = _rollout(used, 3, ACTIONS)
    fresh = _rollout(make_env(active_gaze=True, include_state=True), 3, ACTIONS)
    assert _same(again, fresh)


def test_different_seeds_give_different_layouts(make_env):
    env = make_env(obs_mode="state")
    s0 = env.reset(seed=0)[0]["state"]
    s1 = env.reset(seed=1)[0]["state"]
    assert not np.array_equal(s0, s1)


def test_save_and_restore_state(make_env):
    env = make_env(active_gaze=True, include_state=True)
    env.reset(seed=5)
    for a in ACTIONS[:10]:
        env.step(a)
    saved = env.save_state()
    after_save = [env.step(a)[0] for a in ACTIONS[10:25]]
    env.restore_state(saved)
    replayed = [env.step(a)[0] for a in ACTIONS[10:25]]
    env.remove_state(saved)
    assert _same(after_save, replayed)
