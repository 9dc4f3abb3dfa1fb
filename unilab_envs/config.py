"""Dataclass configs with dotted / nested overrides and did-you-mean errors for unknown keys.

Every default lives in a dataclass field; ``apply_overrides`` returns a new config, so callers
never mutate shared defaults. ``gym.make(id, object_type="cube", domain_rand={"enabled": False})``
and ``gym.make(id, **{"domain_rand.enabled": False})`` are equivalent.
"""
from __future__ import annotations

import dataclasses
import difflib
import numbers
import os
import types
import typing
from typing import Any, Mapping, TypeVar

import numpy as np

C = TypeVar("C")


def flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a (nested) dataclass config."""
    keys = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        keys.append(key)
        if dataclasses.is_dataclass(value):
            keys.extend(flat_keys(value, key + "."))
    return keys


def unknown_key_error(key: str, valid: list[str], where: str = "config") -> KeyError:
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
    if not close:  # also match on the last component: "mass_rang" -> "domain_rand.mass_range"
        tail = key.rsplit(".", 1)[-1]
        close = [k for k in valid if difflib.get_close_matches(tail, [k.rsplit(".", 1)[-1]], cutoff=0.7)][:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return KeyError(f"unknown {where} key {key!r}{hint} (valid keys: {', '.join(sorted(valid))})")


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})
            if not isinstance(nested[head], dict):
                raise ValueError(f"override {key!r} conflicts with a value given for {head!r}")
            nested[head][rest] = value
        elif isinstance(value, Mapping) and isinstance(nested.get(head), dict):
            nested[head].update(value)
        else:
            nested[head] = value
    return nested


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """``value`` as the field's annotated type (int -> float, list -> tuple), or a TypeError naming the key."""
    def bad(expected: str) -> TypeError:
        return TypeError(f"config key {key!r} expects {expected}, got {value!r} ({type(value).__name__})")

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(value, inner[0], key)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad(f"a list like {_example(args)}")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise bad(f"{len(args)} values, like {_example(args)}")
        item_types = [args[0]] * len(value) if args and args[-1] is Ellipsis else list(args) or [Any] * len(value)
        return tuple(_coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, item_types, strict=True)))
    if annotation is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise bad("true/false")
        return bool(value)
    is_bool = isinstance(value, (bool, np.bool_))
    if annotation is float:  # numbers.Real includes numpy's floats and ints
        if is_bool or not isinstance(value, numbers.Real):
            raise bad("a number")
        return float(value)
    if annotation is int:
        if is_bool or not isinstance(value, numbers.Integral):
            raise bad("an integer")
        return int(value)
    if annotation is str and not isinstance(value, str):
        if isinstance(value, os.PathLike):  # grasp_cache_path=Path("caches/x") is a path like any other
            return os.fspath(value)
        raise bad("a string")
    return value


def _example(args: tuple) -> str:
    if args and args[-1] is Ellipsis:
        return "[1.0, 1.1]"
    return "[" + ", ".join("1.0" if a is float else "1" for a in args) + "]"


def apply_overrides(cfg: C, overrides: Mapping[str, Any] | None, prefix: str = "") -> C:
    """A copy of dataclass ``cfg`` with ``overrides`` (nested dicts or dotted keys) applied."""
    if not overrides:
        return cfg
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = typing.get_type_hints(type(cfg))
    changes = {}
    for name, value in _nest(overrides).items():
        if name not in fields:
            raise unknown_key_error(prefix + name, flat_keys(cfg, ""), "config") if not prefix else \
                unknown_key_error(prefix + name, [prefix + k for k in flat_keys(cfg)], "config")
        current = getattr(cfg, name)
        if dataclasses.is_dataclass(current):
            if dataclasses.is_dataclass(value):
                changes[name] = value
            elif isinstance(value, Mapping):
                changes[name] = apply_overrides(current, value, prefix + name + ".")
            else:
                raise TypeError(f"config key {prefix + name!r} is a section; give a dict of its keys")
        else:
            changes[name] = _coerce(value, hints.get(name), prefix + name)
    return dataclasses.replace(cfg, **changes)


def require(ok: bool, key: str, value: Any, what: str) -> None:
    """Raise a ValueError naming ``key``, its ``value`` and what it must be, unless ``ok``."""
    if not ok:
        raise ValueError(f"config key {key!r} = {value!r}: {what}")


def require_range(key: str, value: tuple[float, float], low: float | None = None, strict: bool = False) -> None:
    """A (lo, hi) range: in order, and (when ``low`` is given) lo above ``low`` (or at it, unless ``strict``)."""
    lo, hi = value
    require(lo <= hi, key, value, f"the range is backwards; give it as ({hi}, {lo})")
    if low is not None:
        require(lo > low if strict else lo >= low, key, value, f"its lower end must be {'>' if strict else '>='} {low}")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict (for logging, JSON metadata and YAML dumps)."""
    return dataclasses.asdict(cfg)
