"""Every time the collector CLI prints carries its zone: a bare `18:17` is
read as the reader's own time and is off by an hour or two."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from collector import admin
from collector.db import connect, migrate
from tests.support import leitstand


@pytest.mark.sqlite_only  # the CLI in a subprocess on a SQLite path
@pytest.mark.parametrize(("tz", "zone"), [("UTC", "UTC"), ("Europe/Berlin", "CET")])
def test_listed_times_name_their_zone(tmp_path: Path, tz: str, zone: str) -> None:
    db = tmp_path / "c.db"
    conn = connect(db)
    migrate(conn)
    admin.add_tenant(conn, "stadt-lohne", actor="test")
    admin.create_token(conn, "enroll", actor="test", tenant="stadt-lohne")
    conn.close()
    env = {**os.environ, "TZ": tz}
    for args in (["tenant", "list"], ["token", "list"], ["audit"]):
        r = subprocess.run(
            [leitstand("leitstand-collector"), *args, "--db", str(db)], capture_output=True, text=True, env=env
        )
        assert r.returncode == 0, r.stderr
        stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?: ([A-Z]{3,4}))?", r.stdout)
        assert stamps, r.stdout
        assert all(found in (zone, "UTC") for found in stamps), (args, r.stdout)
