"""Files the collector ships: runbooks, Grafana dashboards and their provisioning,
the systemd units and the default configs.

In the repository they live at the top level (``runbooks/``, ``dashboards/``,
``deploy/``), where people look for them; this package holds symlinks to those
folders, so setuptools copies the files themselves into the wheel and the sdist,
and ``importlib.resources`` finds them in a wheel, an editable install and a
checkout alike.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["KINDS", "path"]

#: what `leitstand-collector files` lists: name -> (folder below this package, what it holds)
KINDS = {
    "runbooks": ("runbooks", "one Markdown runbook per alert rule, German; English twins in en/"),
    "dashboards": ("dashboards", "Grafana dashboard JSON"),
    "provisioning": ("dashboards/provisioning", "Grafana file provisioning: dashboards, datasource"),
    "deploy": ("deploy", "systemd units and default configs"),
}


def path(*parts: str) -> Path:
    """The installed file or folder ``parts`` below this package, e.g. ``path("runbooks")``.

    A pip-installed wheel is always unpacked on disk, so this is a real path."""
    return Path(str(resources.files(__name__).joinpath(*parts)))
