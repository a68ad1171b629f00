"""Readiness reads a site's UPS and switches within the application's tenant:
another tenant's device of the same id is no evidence, neither for nor against
(the scenario of tests/collector/readiness/test_api.py: application `emw` of
stadt-lohne, sites rz-nord and rz-sued with usv-n/usv-s and sw-n/sw-s)."""

from __future__ import annotations

from tests.collector.readiness.test_api import Fleet, check, fleet  # noqa: F401  (fleet: the fixture)


async def test_another_tenants_devices_of_the_same_ids_are_no_evidence(fleet: Fleet) -> None:  # noqa: F811
    now = fleet.env.clock.now
    # only stadt-b's agent reports devices of these ids, all healthy
    await fleet.post("b-web-1", "rz-nord", snmp=[*fleet._ups(now), *fleet._switches(now)])
    detail = await fleet.readiness("/emw")
    for check_id in ("ups_runtime", "uplinks"):
        assert {e["key"] for e in check(detail, check_id)["evidence"]} == {"evidence.missing"}, check_id

    # stadt-lohne's own poller: usv-n on battery, an uplink of sw-n down ...
    fleet.on_battery, fleet.uplink_n2 = True, "down"
    await fleet.report_all()
    # ... and a later, healthy reading of the same ids from stadt-b does not mask it
    fleet.on_battery, fleet.uplink_n2 = False, "up"
    fleet.env.clock.now += 30
    await fleet.post("b-web-1", "rz-nord", snmp=[*fleet._ups(fleet.env.clock.now), *fleet._switches(now)])
    detail = await fleet.readiness("/emw", lang="en")
    bad = [e for e in check(detail, "ups_runtime")["evidence"] if e["verdict"] == "fail"]
    assert {e["key"] for e in bad} == {"ups.on_battery", "ups.runtime_low"}
    down = [e for e in check(detail, "uplinks")["evidence"] if e["key"] == "uplinks.down"]
    assert [e["params"]["device"] for e in down] == ["sw-n"]
