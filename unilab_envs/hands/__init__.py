"""Hand specifications, by name."""
from __future__ import annotations

from .allegro import ALLEGRO
from .base import HandSpec
from .sharpa import SHARPA

HANDS: dict[str, HandSpec] = {hand.name: hand for hand in (ALLEGRO, SHARPA)}


def get_hand(name: str) -> HandSpec:
    try:
        return HANDS[name]
    except KeyError:
        raise ValueError(f"unknown hand {name!r}; available: {sorted(HANDS)}") from None


__all__ = ["HANDS", "HandSpec", "get_hand"]
