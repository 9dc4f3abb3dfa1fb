"""Hand specifications, by name."""
from __future__ import annotations

from .allegro import ALLEGRO
from .base import HandSpec

HANDS: dict[str, HandSpec] = {ALLEGRO.name: ALLEGRO}


def get_hand(name: str) -> HandSpec:
    try:
        return HANDS[name]
    except KeyError:
        raise ValueError(f"unknown hand {name!r}; available: {sorted(HANDS)}") from None


__all__ = ["HANDS", "HandSpec", "get_hand"]
