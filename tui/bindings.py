"""Key bindings in the UI language (used by the app, its screens and widgets)."""

from __future__ import annotations

import dataclasses

from textual.dom import DOMNode

from .i18n import CATALOG, t

__all__ = ["translate_bindings"]


def translate_bindings(node: DOMNode) -> None:
    """Key binding descriptions are catalog keys; show them in the current language."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        bindings[key] = [
            dataclasses.replace(b, description=t(b.description)) if b.description in CATALOG else b for b in items
        ]
