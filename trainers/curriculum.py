"""The trainers' side of the env's randomisation curriculum (``unilab_envs/tasks/curriculum.py``): tell the env
how far training has got, and log the stage. Every trainer calls ``drive`` with its own env-step count, which
its checkpoints keep, so a resumed run continues at the stage it stopped at."""
from __future__ import annotations


def drive(env, env_steps: int) -> dict[str, float]:
    """``env.unwrapped.set_training_progress(env_steps)``; returns the stage and each term's value as
    TensorBoard scalars ``curriculum/<name>`` (none when the env has no curriculum or it is off)."""
    base = getattr(env, "unwrapped", env)
    if not hasattr(base, "set_training_progress"):
        return {}
    base.set_training_progress(int(env_steps))
    return {f"curriculum/{k}": v for k, v in base.curriculum_state().items()}


#: env keyword arguments of every env that evaluates or films a policy: the full configured randomisation
EVAL_ENV = {"curriculum": {"enabled": False}}
