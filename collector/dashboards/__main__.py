"""``python -m collector.dashboards [DIR]``: regenerate the dashboard JSON (default: ./dashboards)."""

from __future__ import annotations

import sys
from pathlib import Path

from .catalog import write_all

if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "dashboards")):
        print(path)
