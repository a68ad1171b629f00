"""`[metering]` and `[metering.limits]` in the collector config become the
pure metering code's Limits; the old `max_gap_s` still loads, with a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collector.config import Config, load_config
from collector.errors import ConfigError
from collector.metering.plausibility import Limits, NicFilter


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_pure_defaults() -> None:
    assert Config().metering.plausibility_limits() == Limits()
    assert Limits().max_interval_s == 86400


def test_every_limit_and_nic_filter_is_configurable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[metering]
max_interval_s = 3600

[metering.limits]
cpu_tolerance = 1.2
cpu_slack_s = 5
network_ceiling_bps = 10e9
network_tolerance = 1.1
network_slack_s = 1
link_speed_on_vms = true
pages_per_minute = 120
pages_slack = 5

[metering.limits.nics]
exclude = ["lo", "docker*"]

[metering.limits.nics.tenant.stadt-lohne]
include = ["eth*", "en*"]

[metering.limits.nics.role.vm]
exclude_bond_members = false
""",
    )
    limits = load_config(path).metering.plausibility_limits()
    assert (limits.cpu_tolerance, limits.cpu_slack_s, limits.max_interval_s) == (1.2, 5, 3600)
    assert (limits.network_ceiling_bps, limits.network_tolerance, limits.network_slack_s) == (10e9, 1.1, 1)
    assert (limits.link_speed_on_vms, limits.pages_per_minute, limits.pages_slack) == (True, 120, 5)
    assert limits.nics == NicFilter(include=("*",), exclude=("lo", "docker*"))
    # an override replaces the keys it sets and keeps the default filter's others
    assert limits.nic_filter("stadt-lohne", "vm") == NicFilter(include=("eth*", "en*"), exclude=("lo", "docker*"))
    assert limits.nic_filter("kreis", "vm") == NicFilter(exclude=("lo", "docker*"), exclude_bond_members=False)
    assert limits.nic_filter("kreis", "server") == limits.nics


def test_a_limit_that_would_quarantine_everything_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[metering.limits]\ncpu_tolerance = 0.5\n")
    with pytest.raises(ConfigError, match=r"collector.toml:2: metering.limits.cpu_tolerance"):
        load_config(path)


def test_max_interval_beyond_the_wire_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"metering.max_interval_s"):
        load_config(write(tmp_path, "[metering]\nmax_interval_s = 90000\n"))


def test_the_old_max_gap_s_is_taken_as_max_interval_s_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "[metering]\nmax_gap_s = 900\n")
    with caplog.at_level(logging.WARNING, logger="leitstand.collector.config"):
        config = load_config(path)
    assert config.metering.max_interval_s == 900
    assert config.metering.plausibility_limits().max_interval_s == 900
    [record] = [r for r in caplog.records if r.name == "leitstand.collector.config"]
    assert f"{path}:2: metering.max_gap_s is deprecated, use metering.max_interval_s" in record.getMessage()


def test_old_and_new_key_together_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[metering]\nmax_interval_s = 600\nmax_gap_s = 300\n")
    with pytest.raises(ConfigError, match=r"collector.toml:3: metering.max_gap_s: remove it"):
        load_config(path)
