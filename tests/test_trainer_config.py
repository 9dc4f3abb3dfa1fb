"""Config composition, override parsing and errors, and run-folder lookup (no training here)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("omegaconf")

from omegaconf import OmegaConf  # noqa: E402

from trainers import config as C  # noqa: E402
from trainers import runs  # noqa: E402
from trainers.cli import train as train_cmd  # noqa: E402
from unilab_envs.tasks.config import InhandRotationConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent / "conf"


def test_configured_combinations_are_exactly_the_leaf_files():
    combos = set(C.configured(ROOT))
    assert ("ppo", "allegro_inhand", "mujoco", None) in combos
    assert ("appo", "allegro_inhand", "mujoco", None) in combos
    assert ("ppo", "allegro_inhand_grasp", "mujoco", None) in combos
    assert len(combos) == len(list(ROOT.glob("*/task/*/*.yaml")))


def test_unconfigured_combination_lists_the_configured_ones():
    with pytest.raises(C.ConfigError) as e:
        C.compose("appo", "allegro_inhand_grasp", "mujoco", root=ROOT)
    assert "--algo ppo --task allegro_inhand_grasp --sim mujoco" in str(e.value)
    for line in ("--algo appo --task sharpa_inhand --sim mujoco --profile hora",
                 "--algo ppo --task allegro_inhand --sim mujoco --profile hora",
                 "--algo hora_distill --task sharpa_inhand --sim mujoco",
                 "--algo ppo --task sharpa_inhand_grasp --sim motrix",
                 "--algo appo --task allegro_inhand --sim motrix --profile hora"):
        assert line in str(e.value)
    with pytest.raises(C.ConfigError) as e:  # an unknown name: the valid ones, not every combination
        C.compose("ppo", "allegro_inhand", "bullet", root=ROOT)
    assert str(e.value) == "unknown --sim 'bullet'; choose mujoco | motrix | mjwarp"
    with pytest.raises(C.ConfigError) as e:
        C.compose("sac", "allegro_inhand", "mujoco", root=ROOT)
    assert str(e.value) == "unknown --algo 'sac'; choose ppo | appo | hora_distill | rsl_ppo"
    with pytest.raises(C.ConfigError) as e:
        C.compose("ppo", "shadow_inhand", "mujoco", root=ROOT)
    assert str(e.value).startswith("unknown --task 'shadow_inhand'; choose allegro_inhand | allegro_inhand_grasp |")


@pytest.mark.parametrize("sim", ["motrix", "mjwarp"])
def test_a_backend_leaf_composes_the_mujoco_one_and_only_the_backend_differs(sim):
    for algo, task, profile in (("ppo", "allegro_inhand", None), ("appo", "sharpa_inhand", "hora"),
                                ("ppo", "sharpa_inhand_grasp", None), ("hora_distill", "allegro_inhand", None)):
        mj, other = (C.compose(algo, task, s, profile, root=ROOT) for s in ("mujoco", sim))
        assert other.env.sim == sim and other.training.sim_backend == sim, (algo, task, profile)
        for cfg in (mj, other):
            del cfg.env["sim"], cfg.training["sim_backend"], cfg.run["sim"]
        assert mj == other, (algo, task, profile)


def test_layers_env_defaults_come_from_the_dataclass_and_files_override_in_order():
    cfg = C.compose("ppo", "allegro_inhand", "mujoco", root=ROOT)
    d = InhandRotationConfig()
    assert cfg.env.control_substeps == d.control_substeps  # dataclass default, not copied in any file
    assert cfg.env.rewards.work == d.rewards.work
    assert cfg.task.env_id == "AllegroInhandRotation-v0" and cfg.algo.family == "sb3_ppo"
    leaf = OmegaConf.load(ROOT / "ppo/task/allegro_inhand/mujoco.yaml")
    assert cfg.training.max_iterations == leaf.training.max_iterations  # leaf beats defaults.yaml
    assert cfg.training.sim_backend == "mujoco" and cfg.env.sim == "mujoco"
    assert list(cfg.algo.net_arch) == [512, 256, 128] and cfg.algo.activation == "elu"


@pytest.mark.parametrize("algo, hand", [("ppo", "allegro"), ("appo", "sharpa")])
def test_profile_layer_sits_between_the_algo_and_the_combination(algo, hand):
    plain = C.compose(algo, f"{hand}_inhand", "mujoco", root=ROOT)
    hora = C.compose(algo, f"{hand}_inhand", "mujoco", "hora", root=ROOT)
    assert plain.env.obs_mode == "state" and "model" not in plain
    assert hora.env.obs_mode == "privileged" and list(hora.model.priv_mlp) == [256, 128, 8]
    assert hora.training.max_iterations == plain.training.max_iterations  # mujoco_hora.yaml starts from mujoco.yaml
    assert runs.experiment_dir(hora).name == f"{hora.task.env_id}-hora"
    assert runs.experiment_dir(plain).name == plain.task.env_id


@pytest.mark.parametrize("algo, task", [("ppo", "sharpa_inhand"), ("appo", "sharpa_inhand"),
                                        ("ppo", "sharpa_inhand_grasp")])
def test_sharpa_runs_start_from_the_hands_own_env_defaults(algo, task):
    from unilab_envs.tasks.presets import rotation_config

    cfg = C.compose(algo, task, "mujoco", root=ROOT)
    sharpa = rotation_config("sharpa")
    assert cfg.env.hand == "sharpa" and cfg.env.object_type == sharpa.object_type
    assert tuple(cfg.env.domain_rand.scale_list) == sharpa.domain_rand.scale_list
    assert cfg.env.rewards.rotate == sharpa.rewards.rotate and cfg.env.height_band == sharpa.height_band
    C.validate_env(cfg)
    if task == "sharpa_inhand":
        assert cfg.env.rewards.fall == -10.0  # the task file's one change


def test_overrides_parse_numbers_lists_bools_and_null():
    cfg = C.compose("ppo", "allegro_inhand", "mujoco", root=ROOT, overrides=[
        "training.num_envs=16", "env.domain_rand.scale_list=[0.9, 1.0]", "env.domain_rand.enabled=false",
        "training.experiment_name=null", "env.object_type=cube", "algo.learning_rate=1e-4", "algo.net_arch=[64,64]"])
    assert cfg.training.num_envs == 16
    assert list(cfg.env.domain_rand.scale_list) == [0.9, 1.0]
    assert cfg.env.domain_rand.enabled is False
    assert cfg.training.experiment_name is None
    assert cfg.env.object_type == "cube"
    assert cfg.algo.learning_rate == pytest.approx(1e-4)
    assert list(cfg.algo.net_arch) == [64, 64]
    # the env takes the section as keyword arguments and its dataclass accepts every key
    from unilab_envs.config import apply_overrides
    env_cfg = apply_overrides(InhandRotationConfig(), C.env_kwargs(cfg))
    assert env_cfg.domain_rand.scale_list == (0.9, 1.0) and env_cfg.object_type == "cube"


@pytest.mark.parametrize("override, suggestion", [
    ("training.num_env=4", "training.num_envs"),
    ("env.domain_rand.mass_rang=[0.1,0.2]", "env.domain_rand.mass_range"),
    ("algo.learnin_rate=0.1", "algo.learning_rate"),
    ("env.rewards.rotat=1", "env.rewards.rotate"),
])
def test_unknown_key_suggests_the_nearest_valid_key(override, suggestion):
    with pytest.raises(C.ConfigError) as e:
        C.compose("ppo", "allegro_inhand", "mujoco", root=ROOT, overrides=[override])
    assert override.split("=")[0] in str(e.value) and suggestion in str(e.value)


@pytest.mark.parametrize("override, fragment", [
    ("training.sim_backend=motrix", "--sim"),
    ("env.sim=motrix", "--sim"),
    ("training.num_envs=many", "expected a number"),
    ("env.domain_rand.enabled=3", "true or false"),
    ("env.domain_rand.scale_list=1.0", "expected a list"),
    ("env.domain_rand=1", "is a section"),
    ("training.num_envs", "key=value"),
])
def test_bad_overrides_are_refused_with_the_fix(override, fragment):
    with pytest.raises(C.ConfigError, match=fragment.replace("[", r"\[")):
        C.compose("ppo", "allegro_inhand", "mujoco", root=ROOT, overrides=[override])


def test_profile_file_composes_its_sibling_first(tmp_path):
    import shutil

    root = tmp_path / "conf"
    shutil.copytree(ROOT, root)
    leaf = root / "ppo/task/allegro_inhand"
    (leaf / "mujoco_fast.yaml").write_text("defaults: [mujoco]\ntraining:\n  num_envs: 8\n")
    (leaf / "mujoco.yaml").write_text("training:\n  num_envs: 64\n  max_iterations: 7\n")
    cfg = C.compose("ppo", "allegro_inhand", "mujoco", "fast", root=root)
    assert cfg.training.num_envs == 8 and cfg.training.max_iterations == 7
    assert ("ppo", "allegro_inhand", "mujoco", "fast") in C.configured(root)


def test_cli_reports_config_errors_without_a_traceback(capsys):
    from trainers.cli import _run

    rc = _run(train_cmd, ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco", "training.num_env=4"])
    err = capsys.readouterr().err
    assert rc == 2 and "training.num_envs" in err and "Traceback" not in err


def _fake_run(base: Path, name: str, checkpoints=()) -> Path:
    run = base / name
    (run / "checkpoints").mkdir(parents=True)
    (run / runs.CONFIG_FILE).write_text("{}\n")
    for it in checkpoints:
        (run / "checkpoints" / f"model_{it}.zip").write_bytes(b"x")
    return run


def test_find_run_latest_and_by_name(tmp_path):
    with pytest.raises(runs.RunNotFound, match="no runs"):
        runs.find_run(tmp_path, -1)
    old = _fake_run(tmp_path, "2026-01-01_00-00-00_mujoco")
    new = _fake_run(tmp_path, "2026-02-01_00-00-00_mujoco_b")
    (tmp_path / "not_a_run").mkdir()  # no config.yaml: ignored
    assert runs.find_run(tmp_path, -1) == new
    assert runs.find_run(tmp_path, "-2") == old
    assert runs.find_run(tmp_path, old.name) == old
    with pytest.raises(runs.RunNotFound, match="latest runs"):
        runs.find_run(tmp_path, "2030-nope")


def test_pick_checkpoint_by_iteration_and_latest(tmp_path):
    from trainers.ppo import checkpoint_iteration, list_checkpoints

    run = _fake_run(tmp_path, "r", checkpoints=(50, 100, 9))
    found = list_checkpoints(run)
    assert [checkpoint_iteration(p) for p in found] == [9, 50, 100]  # numeric, not lexical, order
    assert runs.pick_checkpoint(found, -1, run, checkpoint_iteration).name == "model_100.zip"
    assert runs.pick_checkpoint(found, "50", run, checkpoint_iteration).name == "model_50.zip"
    with pytest.raises(runs.RunNotFound, match="available"):
        runs.pick_checkpoint(found, 7, run, checkpoint_iteration)


def test_new_run_dir_name_and_atomic_write(tmp_path):
    from datetime import datetime

    cfg = C.compose("ppo", "allegro_inhand", "mujoco", root=ROOT,
                    overrides=[f"training.logdir={tmp_path}", "training.run_name=abc"])
    now = datetime(2026, 11, 21, 9, 8, 7)
    a, b = runs.new_run_dir(cfg, now), runs.new_run_dir(cfg, now)
    assert a == tmp_path / "sb3_ppo" / "AllegroInhandRotation-v0" / "2026-11-21_09-08-07_mujoco_abc"
    assert b != a and b.is_dir()
    runs.atomic_write_text(a / "x.txt", "hello")
    assert (a / "x.txt").read_text() == "hello" and not list(a.glob(".*.tmp"))


def test_legged_gym_device_flags(tmp_path, capsys, cache_dir):
    """--rl-device (and --rl_device, --device) set the torch device; --sim-device the physics device, which the
    CPU-only mujoco backend refuses for cuda before any run folder is made."""
    import gymnasium as gym
    import pytest

    from trainers import cli

    for flag in ("--rl-device", "--rl_device", "--device"):
        args = cli.parse("train", ["--algo", "ppo", "--task", "allegro_inhand", flag, "cpu", "--sim-device", "cpu"])
        cfg = cli.compose(args)
        assert cfg.training.device == "cpu" and cfg.env.sim_device == "cpu"
    base = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco", f"training.logdir={tmp_path}"]
    assert cli._run(cli.train, base + ["--sim_device", "cuda:0"]) == 2
    err = capsys.readouterr().err
    assert "sim_device='cuda:0'" in err and "runs on cpu only" in err and "--sim-device cpu" in err
    assert not (tmp_path / "sb3_ppo").exists()
    with pytest.raises(ValueError, match="runs on cpu only"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=1, sim_device="cuda")
    env = gym.make_vec("AllegroInhandRotation-v0", num_envs=1, sim_device="cpu")
    env.close()


def test_negative_run_lists_need_no_equals_sign():
    from trainers import cli

    args = cli.parse("eval", ["--algo", "ppo", "--task", "allegro_inhand", "--load-run", "-1,-2", "--checkpoints",
                              "-1", "--checkpoint", "-2,-3"])
    assert (args.load_run, args.checkpoints, args.checkpoint) == ("-1,-2", "-1", "-2,-3")


def test_each_backend_file_names_its_own_backend():
    for path in sorted((ROOT / "sim").glob("*.yaml")):
        assert OmegaConf.load(path).env.sim == path.stem, path
