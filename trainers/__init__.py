"""Thin trainers over Stable-Baselines3 (PPO) and Sample Factory (APPO) for the unilab_envs tasks.

Commands: ``train``, ``eval`` (or ``python -m trainers eval`` / ``unilab-eval``) and ``unilab-export``.
"""
