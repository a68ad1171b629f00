"""``python -m collector.bundled [KIND]``: where the installed files are.

For agent-only installs, which lack the collector's dependencies and so its CLI
(`leitstand-collector files` says the same)."""

from __future__ import annotations

import sys

from . import KINDS, path

if __name__ == "__main__":
    kinds = sys.argv[1:] or sorted(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        sys.exit(f"unknown: {', '.join(unknown)} (known: {', '.join(sorted(KINDS))})")
    for kind in kinds:
        print(path(KINDS[kind][0]))
