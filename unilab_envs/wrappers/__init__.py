"""Adapters from the native vector envs to the RL libraries of this field, one module each.

- ``unilab_envs.wrappers.sb3.SB3VecEnv``: Stable-Baselines3's ``VecEnv``.
- ``unilab_envs.wrappers.rsl_rl.RslRlVecEnv``: rsl_rl's ``VecEnv`` (``rsl-rl-lib`` 5.x).
- ``unilab_envs.wrappers.skrl.skrl_env``: skrl's own Gymnasium wrapper, with the mode it needs checked.

Each takes ``gym.make_vec(id, num_envs=N, autoreset_mode="same_step")`` (these libraries expect
finished envs to be reset within the step) and says so clearly when given anything else. Each is
imported on its own, so that only the library you use needs to be installed; library-specific code
lives here, never in the tasks. CleanRL needs no adapter (see the README).
"""
