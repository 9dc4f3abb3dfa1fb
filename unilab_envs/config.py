"""Dataclass configs with dotted / nested overrides and did-you-mean errors for unknown keys.

Every default lives in a dataclass field; ``apply_overrides`` returns a new config, so callers
never mutate shared defaults. ``gym.make(id, object_type="cube", domain_rand={"enabled": False})``
and ``gym.make(id, **{"domain_rand.enabled": False})`` are equivalent.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any, Mapping, TypeVar

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
    origin = typing.get_origin(annotation)
    if origin is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is bool and not isinstance(value, bool):
        raise TypeError(f"config key {key!r} expects true/false, got {value!r}")
    return value


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


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict (for logging, JSON metadata and YAML dumps)."""
    return dataclasses.asdict(cfg)
