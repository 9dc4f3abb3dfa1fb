"""Find and load the frozen HORA teacher a student distills from: a ``--profile hora`` run of ppo or appo
on the same task (``teacher.*`` keys of ``conf/hora_distill/algo.yaml``)."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import runs
from .algos import get_algo
from .hora_model import TeacherActor

TEACHER_ALGOS = ("ppo", "appo")
SNAPSHOT_DIR = "teacher"  # inside a student's run folder: the copy of its teacher it loads
RUN_FILES = (runs.CONFIG_FILE, "config.json")  # what loading a teacher reads from its run folder (json: APPO's)
#: env keys a student must share with its teacher (the observation the teacher's actor takes)
SHARED_ENV_KEYS = ("hand", "object_type", "obs_frames", "privileged_delay")
#: what an unset key of SHARED_ENV_KEYS means (the env's default), so that unset and the default compare equal
_UNSET_MEANS = {"privileged_delay": 0.0}


def teacher_config(cfg: DictConfig) -> DictConfig:
    """The config a teacher run of ``teacher.algo_family`` on this task would have (its run folders)."""
    t = cfg.teacher
    if t.algo_family not in TEACHER_ALGOS:
        raise config_mod.ConfigError(f"teacher.algo_family={t.algo_family!r}; choose one of {list(TEACHER_ALGOS)} "
                                     f"(the --algo the teacher was trained with, --profile hora)")
    overrides: list[tuple[str, object]] = [("training.logdir", t.logdir or cfg.training.logdir)]
    if t.experiment_name:
        overrides.append(("training.experiment_name", t.experiment_name))
    try:
        return config_mod.compose(t.algo_family, cfg.run.task, cfg.run.sim, "hora", overrides)
    except config_mod.ConfigError as e:
        raise config_mod.ConfigError(f"teacher: {e}") from e


def locate(cfg: DictConfig) -> tuple[str, Path, Path]:
    """``(algo, run folder, checkpoint)`` of the teacher the config names (``-1`` = newest run with a checkpoint),
    checked as the student will load it (profile, env keys it shares); reads no weights. A teacher that is not
    there is a clear error naming the ``teacher.*`` keys and the command that trains it."""
    t = cfg.teacher
    tcfg = teacher_config(cfg)
    algo = get_algo(t.algo_family)
    try:  # -k: the newest teacher runs that have a checkpoint
        run_dir = runs.find_run(runs.experiment_dir(tcfg), t.load_run, algo.list_checkpoints, flag="teacher.load_run=",
                                kind=f"{t.algo_family} --profile hora run", advice=None)
    except runs.RunNotFound as e:
        raise runs.RunNotFound(_missing(cfg, tcfg, f"teacher: {e}")) from None
    if runs.run_profile(run_dir) != "hora":
        raise runs.CheckpointError(f"teacher: {run_dir} is not a HORA teacher (trained without --profile hora); set "
                                   f"teacher.load_run to a --profile hora run, e.g. one trained with "
                                   f"`{teacher_command(cfg, tcfg)}`")
    try:
        ckpt = runs.pick_checkpoint(algo.list_checkpoints(run_dir), t.checkpoint, run_dir, algo.checkpoint_iteration)
    except runs.RunNotFound as e:
        raise runs.RunNotFound(f"teacher: {str(e).replace('--checkpoint', 'teacher.checkpoint')}") from None
    check_compatible(cfg, run_dir)
    return str(t.algo_family), run_dir, ckpt


def teacher_command(cfg: DictConfig, tcfg: DictConfig) -> str:
    """The command that trains the teacher ``cfg`` (a student's config) looks for: where it looks (the teacher's
    logdir and experiment) and the env keys the two must share."""
    t = cfg.teacher
    words = ["train", "--algo", str(t.algo_family), "--task", str(cfg.run.task), "--sim", str(cfg.run.sim),
             "--profile", "hora"]
    if t.experiment_name:
        words += ["--experiment-name", str(t.experiment_name)]
    default = config_mod.compose(t.algo_family, cfg.run.task, cfg.run.sim, "hora")
    if str(tcfg.training.logdir) != str(default.training.logdir):
        words.append(f"training.logdir={tcfg.training.logdir}")
    for key in SHARED_ENV_KEYS:
        mine, theirs = (OmegaConf.select(c, f"env.{key}", default=_UNSET_MEANS.get(key)) for c in (cfg, default))
        if mine != theirs:
            words.append(f"env.{key}={mine}")
    return " ".join(words)


def _missing(cfg: DictConfig, tcfg: DictConfig, what: str) -> str:
    return (f"{what}. Train one first: {teacher_command(cfg, tcfg)}; or point the student at an existing "
            f"one with teacher.logdir / teacher.experiment_name / teacher.load_run (teacher.algo_family: the teacher's "
            f"--algo, one of {' | '.join(TEACHER_ALGOS)})")


def check_resumable(student_run: Path, tinfo: dict) -> None:
    """A student resumes with its own teacher (its snapshot, else the teacher run it was distilled from), not the
    one ``teacher.*`` names now: that checkpoint must still be there."""
    _, checkpoint = located(tinfo, student_run)
    if not Path(checkpoint).is_file():
        raise runs.RunNotFound(_gone(checkpoint))


def _gone(checkpoint: Path) -> str:
    return (f"the teacher checkpoint {checkpoint} is gone; the student needs it (its actor head acts on the "
            f"student's latent). Restore it or distill again from another teacher")


def check_compatible(cfg: DictConfig, teacher_run: Path) -> None:
    """The student's env gives the teacher the observation it was trained on."""
    saved = config_mod.load(Path(teacher_run) / runs.CONFIG_FILE)
    for key in SHARED_ENV_KEYS:
        default = _UNSET_MEANS.get(key)
        mine, theirs = (OmegaConf.select(c, f"env.{key}", default=default) for c in (cfg, saved))
        if mine != theirs:
            raise config_mod.ConfigError(f"env.{key}={mine!r}, but the teacher {teacher_run} was trained with "
                                         f"env.{key}={theirs!r}: set env.{key}={theirs} or pick another teacher")


def snapshot(run_dir: Path, checkpoint: Path, student_run: Path) -> str:
    """Copy the teacher's checkpoint and run config into ``<student_run>/teacher/`` (same layout, atomic writes),
    so the student keeps working when the teacher's run is moved or deleted. Returns the checkpoint's path
    relative to the student's run folder."""
    run_dir, checkpoint, dest = Path(run_dir), Path(checkpoint), Path(student_run) / SNAPSHOT_DIR
    try:
        rel = checkpoint.resolve().relative_to(run_dir.resolve())
    except ValueError:
        rel = Path("checkpoints") / checkpoint.name  # a checkpoint file given from outside its run folder
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            runs.atomic_write_bytes(dest / name, (run_dir / name).read_bytes())
    runs.atomic_write_bytes(dest / rel, checkpoint.read_bytes())
    return str(Path(SNAPSHOT_DIR) / rel)


def located(tinfo: dict, student_run: Path) -> tuple[Path, Path]:
    """``(run folder, checkpoint)`` to load a student's teacher from: its snapshot in the student's run folder,
    or (students written before snapshots) the teacher's own run."""
    if tinfo.get("snapshot") and (Path(student_run) / tinfo["snapshot"]).is_file():
        return Path(student_run) / SNAPSHOT_DIR, Path(student_run) / tinfo["snapshot"]
    return Path(tinfo["run"]), Path(tinfo["checkpoint"])


def load(algo: str, run_dir: Path, checkpoint: Path) -> TeacherActor:
    """The teacher's actor, frozen (eval mode, no gradients)."""
    if not Path(checkpoint).is_file():
        raise runs.RunNotFound(_gone(checkpoint))
    actor, _ = get_algo(algo).load_actor(Path(run_dir), Path(checkpoint))
    if not isinstance(actor, TeacherActor):
        raise runs.CheckpointError(f"{checkpoint} is not a HORA teacher (a --profile hora run); got "
                                   f"{type(actor).__name__}")
    return actor.eval().requires_grad_(False)
