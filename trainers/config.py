"""Compose a run's config from ``conf/`` and apply command-line overrides.

Layers, each merged over the last (OmegaConf):

1. the env defaults of the task's hand (``env.hand`` in ``conf/task/<task>.yaml``), as ``gym.make`` uses
   them (``unilab_envs.tasks.presets``): the one source of env defaults;
2. ``conf/defaults.yaml``: training and eval defaults shared by every run;
3. ``conf/sim/<sim>.yaml``: the backend;
4. ``conf/task/<task>.yaml``: the task (env id, hand, object);
5. ``conf/<algo>/algo.yaml``: the algorithm's hyper-parameters;
6. ``conf/profile/<profile>.yaml`` (with ``--profile``): what a profile changes for every algo and task
   (``hora``: the privileged observation and the encoder's sizes);
7. ``conf/<algo>/task/<task>/<sim>[_<profile>].yaml``: this combination; its optional ``defaults: [name]``
   list composes sibling files first (``mujoco_hora.yaml`` starts from ``mujoco.yaml``);
8. flags (``--num-envs`` ...), then dotted ``key=value`` overrides.

A combination is configured exactly when its file in step 6 exists.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any, Iterable

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

try:  # OmegaConf >= 2.4 keeps tuples as TupleConfig
    from omegaconf import TupleConfig
except ImportError:  # pragma: no cover
    TupleConfig = ListConfig

from unilab_envs.config import to_dict
from unilab_envs.tasks.presets import rotation_config

#: keys set by a command-line flag only, with the flag to use instead
FLAG_ONLY = {"training.sim_backend": "--sim", "env.sim": "--sim", "run.algo": "--algo", "run.task": "--task",
             "run.sim": "--sim", "run.profile": "--profile"}
#: sections whose keys are passed through to a library that validates them itself
OPEN_SECTIONS = ("algo.hparams.",)


class ConfigError(ValueError):
    """A config that cannot be composed: unknown combination, key or value."""


class RunFinished(ConfigError):
    """``train --resume`` of a run that already reached its ``training.max_iterations``."""


def conf_dir() -> Path:
    """``$UNILAB_CONF_DIR``, else ``conf/`` installed with the package, else the source checkout's ``conf/``."""
    if os.environ.get("UNILAB_CONF_DIR"):
        return Path(os.environ["UNILAB_CONF_DIR"])
    installed = Path(__file__).parent / "conf"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "conf"


def configured(root: Path | None = None) -> list[tuple[str, str, str, str | None]]:
    """Every configured ``(algo, task, sim, profile)``."""
    root = root or conf_dir()
    found = []
    for leaf in sorted(root.glob("*/task/*/*.yaml")):
        sim, _, profile = leaf.stem.partition("_")
        found.append((leaf.parts[-4], leaf.parts[-2], sim, profile or None))
    return found


def describe(combo: tuple[str, str, str, str | None]) -> str:
    algo, task, sim, profile = combo
    return f"--algo {algo} --task {task} --sim {sim}" + (f" --profile {profile}" if profile else "")


def _load(path: Path) -> DictConfig:
    try:
        return OmegaConf.load(path)
    except Exception as e:  # a YAML error names the file, not just the line
        raise ConfigError(f"cannot read config file {path}: {e}") from e


def _leaf_layers(leaf: Path, seen: tuple[Path, ...] = ()) -> list[DictConfig]:
    """The leaf file, preceded by the siblings its ``defaults`` list names (recursively)."""
    if leaf in seen:
        raise ConfigError(f"config files include each other in a cycle: {' -> '.join(map(str, seen + (leaf,)))}")
    node = _load(leaf)
    layers = []
    for name in node.pop("defaults", None) or []:
        sibling = leaf.with_name(f"{name}.yaml")
        if not sibling.is_file():
            raise ConfigError(f"{leaf} lists defaults {name!r}, but {sibling} does not exist")
        layers += _leaf_layers(sibling, seen + (leaf,))
    return layers + [node]


def flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a composed config (sections and leaves)."""
    keys = []
    if isinstance(node, DictConfig):
        for k in node.keys():
            key = f"{prefix}{k}"
            keys.append(key)
            keys += flat_keys(node[k], key + ".")
    return keys


def suggest(key: str, valid: Iterable[str]) -> str:
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
    if not close:  # match the last component too: "training.num_env" -> "training.num_envs"
        tail = key.rsplit(".", 1)[-1]
        close = [k for k in valid if difflib.get_close_matches(tail, [k.rsplit(".", 1)[-1]], cutoff=0.75)][:3]
    return f"; did you mean {' or '.join(close)}?" if close else ""


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=[1, 2]"`` -> ``("a.b", [1, 2])``: values are parsed as YAML (numbers, lists, null, true)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not key=value (e.g. training.num_envs=64)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"cannot parse the value of override {text!r}: {e}") from e
    if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
        try:
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            pass
    return key, value


def _check_type(key: str, old: Any, new: Any) -> None:
    if old is None or new is None:
        return
    if isinstance(old, bool) != isinstance(new, bool):
        raise ConfigError(f"{key}={new!r}: expected true or false" if isinstance(old, bool)
                          else f"{key}={new!r}: expected {type(old).__name__}, not a boolean")
    if isinstance(old, (int, float)) and not isinstance(new, (int, float)):
        raise ConfigError(f"{key}={new!r}: expected a number like {old!r}")
    if isinstance(old, (list, tuple, ListConfig, TupleConfig)) and not isinstance(new, list):
        raise ConfigError(f"{key}={new!r}: expected a list like {list(old)!r}, e.g. {key}=[1.0,1.1]")
    if isinstance(old, DictConfig):
        raise ConfigError(f"{key} is a section; set its keys, e.g. {key}.{next(iter(old.keys()), 'key')}=...")


def apply_overrides(cfg: DictConfig, overrides: Iterable[str | tuple[str, Any]]) -> DictConfig:
    """Apply ``key=value`` overrides to a composed config; unknown keys fail with suggestions."""
    valid = flat_keys(cfg)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        if key in FLAG_ONLY:
            raise ConfigError(f"{key} is set by {FLAG_ONLY[key]}, not by an override: use `{FLAG_ONLY[key]} {value}`")
        if key not in valid and not key.startswith(OPEN_SECTIONS):
            raise ConfigError(f"unknown config key {key!r}{suggest(key, valid)}")
        if key in valid:
            _check_type(key, OmegaConf.select(cfg, key), value)
        OmegaConf.update(cfg, key, value, merge=False, force_add=True)
    return cfg


def check_names(algo: str, task: str, sim: str, root: Path | None = None) -> None:
    """An unknown ``--algo``, ``--task`` or ``--sim`` is named with the valid choices (the algorithms that
    ``trainers.algos`` registers, the tasks of ``conf/task/``, the backends of ``unilab_envs.backends``)."""
    from unilab_envs.backends import BACKENDS

    from .algos import ALGOS

    root = root or conf_dir()
    tasks = sorted(p.stem for p in (root / "task").glob("*.yaml"))
    for flag, value, choices in (("--algo", algo, list(ALGOS)), ("--task", task, tasks),
                                 ("--sim", sim, list(BACKENDS))):
        if value not in choices:
            raise ConfigError(f"unknown {flag} {value!r}; choose {' | '.join(choices)}")


def compose(algo: str, task: str, sim: str, profile: str | None = None,
            overrides: Iterable[str | tuple[str, Any]] = (), root: Path | None = None) -> DictConfig:
    """The resolved config of one run (see the module docstring for the layers)."""
    root = root or conf_dir()
    check_names(algo, task, sim, root)
    leaf = root / algo / "task" / task / (f"{sim}_{profile}.yaml" if profile else f"{sim}.yaml")
    if not leaf.is_file():  # known names, but not configured together: list what is
        combos = "\n  ".join(describe(c) for c in configured(root))
        raise ConfigError(f"no config for --algo {algo} --task {task} --sim {sim}"
                          f"{' --profile ' + profile if profile else ''} ({leaf} does not exist). "
                          f"Configured combinations:\n  {combos}")
    files = [root / "sim" / f"{sim}.yaml", root / "task" / f"{task}.yaml", root / algo / "algo.yaml"]
    if profile:
        files.append(root / "profile" / f"{profile}.yaml")
    parts = [_load(p) for p in files if p.is_file()]
    hand = OmegaConf.select(OmegaConf.merge(*parts), "env.hand", default="allegro") if parts else "allegro"
    layers = [OmegaConf.create({"env": to_dict(_env_defaults(hand))}), _load(root / "defaults.yaml"), *parts]
    layers += _leaf_layers(leaf)
    cfg = OmegaConf.merge(*layers)
    cfg.training.sim_backend = sim
    cfg.env.sim = sim
    cfg.run = {"algo": algo, "task": task, "sim": sim, "profile": profile}
    return apply_overrides(cfg, overrides)


def _env_defaults(hand: str):
    try:
        return rotation_config(hand)
    except ValueError as e:
        raise ConfigError(f"env.hand: {e}") from e


def validate_training(cfg: DictConfig) -> None:
    """The ``training`` settings every trainer relies on, checked before a run folder is made: at least one env
    and one iteration, and a torch device that exists here (``training.device``)."""
    from .device import check_device

    tr, grasp = cfg.training, OmegaConf.select(cfg, "task.kind") == "grasp"
    checks = (("--num-envs", "num_envs"),) + (() if grasp else (("--max-iterations", "max_iterations"),))
    for flag, key in checks:  # grasp collection has no iterations and no policy device
        value = tr.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{flag} must be >= 1, got {value} (config key training.{key})")
    if not grasp:
        try:
            check_device(str(tr.device))
        except ValueError as e:
            raise ConfigError(str(e)) from e


def env_kwargs(cfg: DictConfig, device_arrays: bool = False) -> dict[str, Any]:
    """Keyword arguments of the task's env (its dataclass validates every key). ``env.arrays: auto`` becomes
    ``numpy`` unless the trainer takes tensors on the device (``device_arrays``: rsl_rl's PPO); a numpy
    trainer refuses ``torch``."""
    kwargs = OmegaConf.to_container(cfg.env, resolve=True)
    arrays = kwargs.get("arrays", "auto")
    if not device_arrays:
        if arrays == "torch":
            algo = OmegaConf.select(cfg, "run.algo", default="this trainer")
            raise ConfigError(f"env.arrays=torch: --algo {algo} trains on host numpy arrays (SB3, Sample Factory); "
                              "leave env.arrays=auto, or use --algo rsl_ppo, which keeps tensors on the device")
        if arrays == "auto" and "arrays" in kwargs:
            kwargs["arrays"] = "numpy"
    return kwargs


def is_hora(cfg: DictConfig) -> bool:
    """A HORA teacher run (``--profile hora``): privileged observation, privileged encoder."""
    return OmegaConf.select(cfg, "run.profile") == "hora"


def require_obs_mode(cfg: DictConfig, algo: str) -> None:
    """A plain PPO/APPO run takes the env's ``state`` vector; a HORA teacher (``--profile hora``) takes the
    ``privileged`` Dict (``hora`` also works: its history is left unused)."""
    mode = cfg.env.obs_mode
    if is_hora(cfg):
        from .hora_model import priv_mask

        fields = OmegaConf.select(cfg, "model.priv_fields")
        try:
            priv_mask(None if fields is None else list(fields), 12)
        except ValueError as e:
            raise ConfigError(str(e)) from e
        if mode not in ("privileged", "hora"):
            raise ConfigError(f"--algo {algo} --profile hora trains a teacher on env.obs_mode=privileged (state + "
                              f"privileged facts); env.obs_mode={mode} has no privileged facts: set "
                              f"env.obs_mode=privileged")
    elif mode != "state":
        raise ConfigError(f"--algo {algo} (no --profile) trains on env.obs_mode=state, a single vector; "
                          f"env.obs_mode={mode} (a Dict with privileged facts) is for a HORA teacher "
                          f"(--profile hora) or student (--algo hora_distill): set env.obs_mode=state")


def _env_config(cfg: DictConfig):
    """The env's own config dataclass of ``cfg.env`` (unvalidated)."""
    from unilab_envs.config import apply_overrides as apply_env

    return apply_env(_env_defaults(cfg.env.hand), env_kwargs(cfg, device_arrays=True))


def validate_env(cfg: DictConfig) -> None:
    """Check the ``env`` section as the env will (types, ranges, counts) without building the env."""
    from unilab_envs.tasks.inhand_rotation import validate

    try:
        validate(_env_config(cfg))
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"env: {e.args[0] if e.args else e}") from e


def check_grasp_cache(cfg: DictConfig) -> None:
    """The start states of a rotation run exist: the grasp cache of every scale in ``env.domain_rand.scale_list``,
    found as the env will find it (explicit path, cache folder, shipped caches, the Hub), before a run folder is
    made. Nothing is generated here: with ``env.grasp_allow_generate=true`` the env makes a missing cache itself."""
    if OmegaConf.select(cfg, "task.kind") == "grasp" or cfg.env.get("grasp_allow_generate"):
        return
    import logging

    from unilab_envs.hands import get_hand
    from unilab_envs.objects import get_object
    from unilab_envs.scene import build_scene
    from unilab_envs.tasks import start_states

    env = _env_config(cfg)
    try:
        layout = build_scene(get_hand(env.hand), get_object(env.object_type), env.physics)
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"env: {e.args[0] if e.args else e}") from e
    quiet = start_states.log.level
    start_states.log.setLevel(logging.WARNING)  # the env says which cache it uses when it loads it
    try:  # a GraspCacheError names the cache, the command that makes it and env.grasp_allow_generate=true
        start_states.load_start_grasps(dataclasses.replace(env, grasp_allow_generate=False), layout)
    finally:
        start_states.log.setLevel(quiet)


def make_env(cfg: DictConfig, num_envs: int, device_arrays: bool = False, **extra):
    """``gymnasium.make_vec`` of the config's task with its ``env`` section (``extra`` on top), resetting
    finished envs in the same step (``SAME_STEP``), as SB3's ``VecEnv`` contract and our rollouts expect.
    Host numpy arrays unless ``device_arrays`` (``env_kwargs``)."""
    import gymnasium as gym

    import unilab_envs  # noqa: F401  (registers the env ids)

    kwargs = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP} | env_kwargs(cfg, device_arrays) | extra
    return gym.make_vec(cfg.task.env_id, num_envs=num_envs, **kwargs)


def make_eval_env(cfg: DictConfig, num_envs: int, **extra):
    """``make_env`` for evaluation and playback: the full configured randomisation (no curriculum stage)."""
    from .curriculum import EVAL_ENV

    return make_env(cfg, num_envs, **(EVAL_ENV | extra))


def save(cfg: DictConfig, path: Path) -> None:
    from .runs import atomic_write_text

    atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))


def load(path: Path) -> DictConfig:
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: is {path.parent} a run folder written by `train`?")
    return _load(path)
