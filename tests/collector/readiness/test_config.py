"""The [readiness] section: strict like the rest of the config; every mistake
names file, line, key and what to change; the collector refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.app import create_app
from collector.config import Config, load_config
from collector.errors import ConfigError
from collector.readiness.config import (
    ApplicationConfig,
    InstanceConfig,
    ReadinessConfig,
    SiteConfig,
    locate,
    parse_duration,
    settings,
)

VALID = """\
[readiness]
stale_after_s = 600
ups_min_runtime = "20m"

[readiness.sites.rz-oldenburg]
lat = 53.14
lon = 8.21
ups = ["usv-ol-1"]
switches = ["sw-ol-core"]

[readiness.sites.rz-leipzig]
lat = 51.34
lon = 12.37
ups = ["usv-le-1"]
switches = ["sw-le-core"]

[[readiness.applications]]
name = "fachverfahren-emw"
tenant = "stadt-lohne"
criticality = "kritis"
rpo = "24h"
rto = "4h"
mta = "3d"
instances = [
  {host = "emw-db-1", site = "rz-oldenburg", role = "primary"},
  {host = "emw-db-2", site = "rz-leipzig", role = "standby"},
]
backup = {metric = "backup_last_success_timestamp_seconds", labels = {job = "emw"}}
replication = {metric = "pg_replication_lag_seconds", host = "emw-db-2"}

[[readiness.applications]]
name = "webportal"
tenant = "stadt-lohne"
criticality = "24x7"
rpo = "1h"
rto = "30m"
failover_test_max_age = "180d"
headroom_margin_pct = 10

[[readiness.applications.instances]]
host = "web-1"
site = "rz-oldenburg"
role = "active"

[[readiness.applications.instances]]
host = "web-2"
site = "rz-leipzig"
role = "active"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text))
    return str(exc.value)


def test_valid_section_becomes_the_model(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, VALID))
    model = settings(cfg.readiness)
    emw, web = model.applications
    assert (emw.rpo_s, emw.rto_s, emw.mta_s) == (86400, 14400, 3 * 86400)
    assert emw.backup is not None and emw.backup.labels == (("job", "emw"),)
    assert emw.replication is not None and emw.replication.host == "emw-db-2"
    assert emw.thresholds.stale_after_s == 600 and emw.thresholds.ups_min_runtime_s == 1200
    assert web.thresholds.failover_test_max_age_days == 180 and web.thresholds.headroom_margin_pct == 10
    assert emw.thresholds.failover_test_max_age_days == 365 and emw.thresholds.headroom_margin_pct == 20
    assert [i.role for i in web.instances] == ["active", "active"]
    assert model.sites["rz-leipzig"].ups == ("usv-le-1",)
    assert model.application("webportal") is web and model.application("nope") is None


def test_default_config_has_no_applications() -> None:
    assert settings(Config().readiness).applications == ()


@pytest.mark.parametrize(
    ("raw", "seconds"), [("15m", 900), ("15min", 900), ("4h", 14400), ("1d", 86400), ("90s", 90), ("1.5h", 5400)]
)
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", [14400, "14400", "4 Stunden", "4w", "h", "0h"])
def test_durations_without_a_valid_unit_are_rejected(raw: str | int) -> None:
    with pytest.raises(ValueError, match=r"unit|duration|longer"):
        parse_duration(raw)


def test_rpo_in_the_wrong_unit_names_file_line_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('rpo = "24h"', 'rpo = "24 Stunden"'))
    message = error_of(tmp_path, path.read_text())
    assert message.startswith(f"{path}:21: readiness.applications[0].rpo: RPO '24 Stunden' is not a duration")
    assert 'e.g. "15m", "4h", "1d"' in message


def test_rpo_as_a_bare_number_is_rejected(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace('rpo = "1h"', "rpo = 3600"))
    assert ":35: readiness.applications[1].rpo: RPO 3600 has no unit" in message


def test_duplicate_names_point_at_the_second(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace('name = "webportal"', 'name = "fachverfahren-emw"'))
    assert ":32: readiness.applications[1].name: duplicate application name 'fachverfahren-emw'" in message
    assert "give every application its own name" in message


def test_application_without_standby(tmp_path: Path) -> None:
    text = VALID.replace('{host = "emw-db-2", site = "rz-leipzig", role = "standby"},\n', "")
    message = error_of(tmp_path, text)
    assert ":24: readiness.applications[0].instances: application 'fachverfahren-emw' has no standby" in message
    assert 'add an instance with role = "standby"' in message


def test_unknown_site_names_the_instance_line(tmp_path: Path) -> None:
    text = VALID.replace('host = "web-2"\nsite = "rz-leipzig"', 'host = "web-2"\nsite = "rz-lepizig"')
    message = error_of(tmp_path, text)
    assert ":47: readiness.applications[1].instances[1].site: unknown site 'rz-lepizig'" in message
    assert "declared: rz-leipzig, rz-oldenburg" in message


def test_type_error_inside_an_application_names_its_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace('criticality = "24x7"', 'criticality = "hoch"'))
    assert ":34: readiness.applications[1].criticality: Expected `str` matching" not in message
    assert ":34: readiness.applications[1].criticality: Invalid enum value 'hoch'" in message


def test_unknown_key_inside_an_application(tmp_path: Path) -> None:
    message = error_of(tmp_path, VALID.replace('mta = "3d"', 'mta = "3d"\nrpo_s = 60'))
    assert ":24: readiness.applications[0].rpo_s: Object contains unknown field `rpo_s`" in message


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    text = VALID.replace('rto = "4h"', 'rto = "5d"').replace('name = "webportal"', 'name = "fachverfahren-emw"')
    message = error_of(tmp_path, text)
    assert "RTO 5d exceeds MTA 3d" in message and "duplicate application name" in message
    assert len(message.splitlines()) == 2


def test_kritis_application_needs_backup_evidence_and_min_healthy_fits(tmp_path: Path) -> None:
    text = VALID.replace('backup = {metric = "backup_last_success_timestamp_seconds", labels = {job = "emw"}}\n', "")
    assert "KRITIS application 'fachverfahren-emw' needs backup evidence" in error_of(tmp_path, text)
    text = VALID.replace('rto = "30m"', 'rto = "30m"\nmin_healthy = 3')
    assert "min_healthy = 3 but the application has 2 instances" in error_of(tmp_path, text)


def test_thresholds_must_be_ordered(tmp_path: Path) -> None:
    assert "must not exceed readiness.distance_warn_km" in error_of(
        tmp_path, VALID.replace("stale_after_s = 600", "stale_after_s = 600\ndistance_fail_km = 300")
    )


def test_the_app_refuses_to_start_on_an_invalid_model(tmp_path: Path) -> None:
    app = ApplicationConfig(
        name="emw",
        tenant="t1",
        criticality="standard",
        rpo="1h",
        rto="1h",
        instances=[InstanceConfig(host="a", site="s1", role="primary")],
    )
    cfg = Config(readiness=ReadinessConfig(sites={"s1": SiteConfig(lat=0, lon=0)}, applications=[app]))
    with pytest.raises(ConfigError, match="has no standby"):
        create_app(tmp_path / "c.db", cfg)
    assert not (tmp_path / "c.db").exists()  # nothing was opened


def test_locate_counts_arrays_of_tables() -> None:
    assert locate(VALID, ("readiness", "applications", 1, "instances", 1, "site")) == 47
    assert locate(VALID, ("readiness", "applications", 0, "instances", 1, "host")) == 24  # inline: the key's line
    assert locate(VALID, ("readiness", "sites", "rz-leipzig", "lon")) == 13
    assert locate(VALID, ("readiness", "stale_after_s")) == 2
    assert locate(VALID, ("nowhere",)) is None
