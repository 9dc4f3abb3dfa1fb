"""Why episodes end: ``final_info["end_cause"]`` on both hands, non-finite physics counted and reset, and the
shares in eval's table/JSON, in SB3/HORA TensorBoard scalars and in Sample Factory's episode stats."""
from __future__ import annotations

import numpy as np
import pytest

from unilab_envs.tasks import end_causes
from unilab_envs.tasks.end_causes import EndCause


def test_classify_orders_the_causes_and_shares_count_every_one():
    t, f = True, False
    codes = end_causes.classify(np.array([f, t, f, f, f]), np.array([f, t, t, f, f]), np.array([f, f, t, t, f]),
                                np.array([f, f, t, t, t]))
    assert codes.tolist() == [EndCause.TIME_LIMIT, EndCause.NONFINITE, EndCause.FELL, EndCause.LEFT_PALM,
                              EndCause.HEIGHT_BAND]
    shares = end_causes.shares(np.array([0, 0, 1, 4]))
    assert shares == {"time_limit": 0.5, "fell": 0.25, "left_palm": 0.0, "height_band": 0.0, "nonfinite": 0.25}
    assert end_causes.parse(["fell", "Left_Palm"]) == {1, 2}
    with pytest.raises(ValueError, match="unknown end cause 'slid'.*fell"):
        end_causes.parse(["slid"])


def _finished(env, steps, actions):
    """(cause, terminated, truncated, object height) of every episode that ended within ``steps`` steps."""
    rows = []
    for t in range(steps):
        _, _, term, trunc, info = env.step(actions(t))
        if "final_info" in info:
            for i in np.flatnonzero(info["_final_info"]):
                rows.append((int(info["final_info"]["end_cause"][i]), bool(term[i]), bool(trunc[i]),
                             float(info["object_height"][i])))
    return rows


def test_allegro_episodes_end_by_falling_or_time_limit_and_the_code_matches_the_flags(make_vec):
    env = make_vec(16, episode_length=60, stagger_episodes=False)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    rows = _finished(env, 120, lambda t: rng.uniform(-1, 1, (16, 16)))
    causes = {r[0] for r in rows}
    assert EndCause.TIME_LIMIT in causes and causes & {EndCause.FELL, EndCause.LEFT_PALM}, causes
    threshold = env.unwrapped.cfg.termination_height
    for cause, term, trunc, height in rows:
        assert trunc == (cause == EndCause.TIME_LIMIT) and term == (cause != EndCause.TIME_LIMIT)
        if cause == EndCause.FELL:
            assert height < threshold


def test_sharpa_height_band_is_its_own_cause(make_vec):
    env = make_vec(8, env_id="SharpaInhandRotation-v0", episode_length=40, stagger_episodes=False, height_band=0.004)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    rows = _finished(env, 40, lambda t: rng.uniform(-1, 1, (8, 22)))
    assert any(r[0] == EndCause.HEIGHT_BAND for r in rows), rows


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_nonfinite_physics_is_counted_ends_the_episode_and_resets_the_env(make_vec, mode):
    env, twin = (make_vec(4, stagger_episodes=False, autoreset_mode=mode) for _ in range(2))
    u = env.unwrapped
    for e in (env, twin):
        e.reset(seed=5)
        e.unwrapped.pushes.active = False  # only the force set below acts
    u.pushes.force[1] = [0.0, 0.0, 1e300]  # a force the integrator cannot survive
    obs, reward, term, trunc, info = env.step(np.zeros((4, 16)))
    twin_obs, *_ = twin.step(np.zeros((4, 16)))
    u.pushes.force[:] = 0.0
    assert term.tolist() == [False, True, False, False] and not trunc.any()
    assert info["final_info"]["end_cause"][1] == EndCause.NONFINITE
    assert np.isfinite(obs).all() and np.isfinite(reward).all()
    assert u.nonfinite_episodes == 1
    np.testing.assert_array_equal(obs[[0, 2, 3]], twin_obs[[0, 2, 3]])  # the other envs are untouched
    for _ in range(3):  # the env starts a fresh episode (next step in NEXT_STEP mode) and stays finite
        obs, reward, term, *_ = env.step(np.zeros((4, 16)))
        assert np.isfinite(obs).all() and np.isfinite(reward).all() and not term.any()
    assert u.nonfinite_episodes == 1  # counted once, also when NEXT_STEP steps the dead env once more
    assert np.isfinite(u.backend.object_state().pos).all()


def test_eval_tables_and_json_give_each_cause_per_scale():
    from trainers.evaluate import format_table, summarize

    n = 6
    stats = {"episode_return": np.zeros(n), "rotation_speed": np.zeros(n), "episode_seconds": np.ones(n),
             "dropped": np.array([0, 1, 1, 0, 1, 1], bool), "object_speed": np.zeros(n), "torque": np.zeros(n),
             "work": np.zeros(n), "object_scale": np.array([0.8, 0.8, 0.8, 1.0, 1.0, 1.0]),
             "end_cause": np.array([0, 1, 1, 0, 3, 4])}
    result = summarize(stats, [0.8, 1.0])
    assert result["per_scale"]["0.8"]["end_causes"]["fell"] == pytest.approx(2 / 3)
    assert result["per_scale"]["1"]["end_causes"]["height_band"] == pytest.approx(1 / 3)
    assert result["overall"]["end_causes"]["nonfinite"] == pytest.approx(1 / 6)
    text = format_table(result)
    assert "how episodes ended" in text and "height_band" in text and "66.7%" in text


def test_training_logs_the_share_of_each_cause_per_iteration():
    from trainers.progress import TrainProgress

    progress = TrainProgress(10, 0, enabled=False)
    out = progress.record(100, [{"end_cause": 0.0}, {"end_cause": 1.0}, {"end_cause": 1.0}, {"end_cause": 2.0}])
    assert out["end_cause/fell"] == 0.5 and out["end_cause/time_limit"] == 0.25 and out["end_cause/nonfinite"] == 0
    out = progress.record(200, [{"end_cause": 4.0}])  # this iteration's episodes, not the window
    assert out["end_cause/nonfinite"] == 1.0


def test_sample_factory_sees_one_indicator_per_cause(make_vec):
    from trainers.sf_env import UnilabSFEnv

    sf = UnilabSFEnv(make_vec(3, autoreset_mode="same_step"))
    info = {"final_info": {"end_cause": np.array([0, 1, 3], np.int8), "episode_length": np.array([5, 5, 5])},
            "_final_info": np.ones(3, bool)}
    stats = sf._episode_stats(info)
    assert "end_cause" not in stats
    assert stats["end_cause/fell"].tolist() == [0.0, 1.0, 0.0]
    assert stats["end_cause/height_band"].tolist() == [0.0, 0.0, 1.0]
