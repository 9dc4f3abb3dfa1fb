"""Failure replay: `eval --record-failures K` keeps the K worst episodes with everything needed to play them
back, and `eval --replay FILE` reproduces the recorded trajectory exactly (and says so when it does not)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from trainers import cli  # noqa: E402
from trainers.evaluate import run_episodes  # noqa: E402
from trainers.failures import FailureRecorder, load, parse_causes, replay, save  # noqa: E402
from unilab_envs.tasks.end_causes import EndCause  # noqa: E402

BASE = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco"]
TINY = ["--num-envs", "8", "algo.n_steps=8", "algo.batch_size=32", "algo.n_epochs=1", "algo.net_arch=[32,32]",
        "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=20",
        "training.export=false"]
# strong pushes and 3 s episodes: drops within seconds, so that there are failures to record
HARD = ["env.domain_rand.force_scale=40.0", "env.episode_length=60", "eval.episodes=16", "eval.num_envs=8",
        "training.progress_bar=false"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    assert cli.train(BASE + TINY + ["--max-iterations", "1", f"training.logdir={logdir}"]) == 0
    assert cli.evaluate(BASE + ["--load-run", "-1", "--record-failures", "5", f"training.logdir={logdir}", *HARD]) == 0
    (run,) = (logdir / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir()
    (folder,) = (run / "failures").iterdir()
    return run, folder


def test_record_failures_writes_the_five_worst_with_videos(recorded):
    run, folder = recorded
    index = json.loads((folder / "index.json").read_text())
    assert len(index) == 5 and sorted(p.name for p in folder.glob("failure_*.npz")) == \
        [f"failure_{k}.npz" for k in range(5)]
    falls = [row["time_to_fall"] for row in index]
    assert falls == sorted(falls)  # worst (shortest) first
    assert all(row["end_cause"] != EndCause.TIME_LIMIT for row in index)  # default: dropped episodes only
    assert all(Path(row["video"]).stat().st_size > 1000 for row in index)
    assert all(set(row["replay_max_abs_diff"].values()) == {0.0} for row in index)
    (result,) = (run / "eval").glob("*.json")
    assert json.loads(result.read_text())["failures"]["folder"] == str(folder)
    meta, arrays = load(folder / "failure_0.npz")
    assert meta["seed"] == 1234 and meta["env_id"] == "AllegroInhandRotation-v0"
    assert arrays["actions"].shape == (len(arrays["reward"]), 16) and arrays["forces"].shape[1] == 3
    assert "start/param/object_mass" in arrays and "start/joint_pos" in arrays


def test_replay_reproduces_a_recorded_failure_exactly(recorded, capsys, tmp_path):
    _, folder = recorded
    video = tmp_path / "replay.mp4"
    assert cli.evaluate(["--replay", str(folder / "failure_2.npz"), "--video", str(video)]) == 0
    out = capsys.readouterr().out
    assert "reproduced exactly" in out and video.stat().st_size > 1000
    result = replay(folder / "failure_2.npz")
    meta, arrays = load(folder / "failure_2.npz")
    np.testing.assert_array_equal(result["trace"]["object_height"], arrays["object_height"])
    assert result["end_cause"] == meta["end_cause_name"] == result["recorded_end_cause"]


def test_replay_says_so_when_the_trajectory_differs(recorded, tmp_path, capsys):
    _, folder = recorded
    meta, arrays = load(folder / "failure_0.npz")
    arrays["actions"] = -arrays["actions"]  # other actions: another trajectory
    starts = {k.removeprefix("start/"): v for k, v in arrays.items() if k.startswith("start/")}
    episode = {k: arrays[k] for k in ("actions", "forces", "reward", "object_height", "rotation_speed")}
    episode |= {"starts": starts, "env_index": meta["env_index"], "end_cause": meta["end_cause"],
                "value": meta["value"], "stats": meta["stats"]}
    tampered = save(episode, tmp_path / "tampered.npz", {k: meta[k] for k in ("env_id", "env_kwargs", "seed")})
    assert cli.evaluate(["--replay", str(tampered)]) == 1
    assert "max |difference| from the recording" in capsys.readouterr().out


def test_sharpa_failures_replay_exactly_with_tilted_gravity_and_relative_friction(make_vec, tmp_path):
    """Recorded from a random policy on the env itself (no trainer): Sharpa's tilted gravity, relative friction,
    nine scales and tactile pads all come back."""
    env = make_vec(8, env_id="SharpaInhandRotation-v0", autoreset_mode="same_step", stagger_episodes=False,
                   episode_length=30)
    rng = np.random.default_rng(0)
    recorder = FailureRecorder(3, key="rotation_speed", causes="any")
    stats = run_episodes(env, lambda obs: rng.uniform(-1, 1, (8, 22)).astype(np.float32), 2, seed=7,
                         progress=False, recorder=recorder)
    worst = recorder.worst()
    assert len(worst) == 3 and [e["value"] for e in worst] == sorted(stats["rotation_speed"])[:3]
    assert "param/gravity" in worst[0]["starts"] and "param/friction_scale" in worst[0]["starts"]
    kwargs = {"stagger_episodes": False, "episode_length": 30}
    for k, episode in enumerate(worst):
        path = save(episode, tmp_path / f"sharpa_{k}.npz",
                    {"env_id": "SharpaInhandRotation-v0", "env_kwargs": kwargs, "seed": 7})
        result = replay(path)
        assert set(result["max_abs_diff"].values()) == {0.0}, result["max_abs_diff"]


def test_bad_failure_options_are_clear_errors(capsys):
    with pytest.raises(ValueError, match="unknown end cause 'slipped'"):
        parse_causes("fell,slipped")
    assert parse_causes("any") == set(range(5)) and EndCause.TIME_LIMIT not in parse_causes(None)
    with pytest.raises(ValueError, match="--failure-key 'speed'"):
        FailureRecorder(2, key="speed")
    assert cli._run(cli.evaluate, ["--replay", "/nonexistent/failure_0.npz"]) == 2
    assert "cannot read failure file" in capsys.readouterr().err


def test_recorder_keeps_only_the_steps_running_episodes_need(make_vec):
    env = make_vec(4, autoreset_mode="same_step", stagger_episodes=False, episode_length=20)
    recorder = FailureRecorder(2, key="return", causes="any")
    run_episodes(env, lambda obs: np.zeros((4, 16), np.float32), 40, seed=0, progress=False, recorder=recorder)
    assert recorder.base >= 256 and len(recorder.log["actions"]) == recorder.t - recorder.base < 300  # trimmed
    assert all(len(e["actions"]) == len(e["reward"]) <= 20 for e in recorder.worst())
