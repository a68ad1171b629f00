"""The pure state machine: pending → firing → resolved with `for`, dedup by
rule and object, flapping damped, history kept; and which notifications follow."""

from __future__ import annotations

import dataclasses

import pytest

from collector.alerting.evaluate import EvalSettings, Outcome, evaluate
from collector.alerting.model import Ack, Alert, Book, Matcher, Observation, Silence, silencing
from collector.alerting.notify import plan
from collector.alerting.policy import Override, Policy, Scope
from collector.alerting.rules import RULES, Rule, Text, by_name, render

T0 = 1_764_000_000.0


def rule(name: str = "r", op: str = ">=", threshold: float = 90, for_s: float = 0, **kw: object) -> Rule:
    base = dict(
        name=name,
        severity="warning",
        watches="host",
        op=op,
        threshold=threshold,
        unit="%",
        for_s=for_s,
        runbook="disk-full",
        summary=Text("{host}: {value:.0f}", "{host}: {value:.0f}"),
        description=Text("d", "d"),
        help=Text("h", "h"),
        expr="x >= {threshold}",
    )
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def ob(value: float, obj: str = "h1", rule_name: str = "r", **kw: object) -> Observation:
    base: dict[str, object] = {"tenant": "t1", "site": "rathaus", "host": obj, "labels": {"host": obj}}
    base.update(kw)
    return Observation(rule=rule_name, object=obj, value=value, **base)  # type: ignore[arg-type]


class Machine:
    """Feeds observations tick by tick, carrying state as the collector's storage does."""

    def __init__(self, *rules: Rule, policy: Policy | None = None, settings: EvalSettings | None = None) -> None:
        self.rules = {r.name: r for r in rules}
        self.policy = policy or Policy()
        self.settings = settings or EvalSettings()
        self.open: dict[tuple[str, str], Alert] = {}
        self.history: list[Alert] = []
        self.fires: dict[tuple[str, str], list[float]] = {}

    def step(self, now: float, *observations: Observation) -> Outcome:
        book = Book(open=dict(self.open), recent_fires={k: tuple(v) for k, v in self.fires.items()})
        out = evaluate(self.rules, observations, book, self.policy, self.settings, now)
        self.open = {}
        for a in out.alerts:
            if a.open:
                self.open[a.key] = a
            else:
                self.history.append(a)
        for t in out.transitions:
            if t.event == "firing":
                self.fires.setdefault(t.alert.key, []).append(now)
        return out


def events(out: Outcome) -> list[str]:
    return [t.event for t in out.transitions]


def test_for_zero_fires_at_once_and_resolves_when_clear() -> None:
    m = Machine(rule(for_s=0))
    assert events(m.step(T0, ob(95))) == ["firing"]
    (alert,) = m.open.values()
    assert alert.state == "firing" and alert.fired_at == T0 and alert.started_at == T0
    assert events(m.step(T0 + 60, ob(96))) == []
    assert m.open[("r", "h1")].value == 96
    assert events(m.step(T0 + 120, ob(50))) == ["resolved"]
    assert not m.open
    (done,) = m.history
    assert done.state == "resolved" and done.resolved_at == T0 + 120 and done.id == alert.id


def test_pending_until_for_has_passed_then_firing() -> None:
    m = Machine(rule(for_s=300))
    assert events(m.step(T0, ob(95))) == ["pending"]
    assert events(m.step(T0 + 240, ob(95))) == []
    assert m.open[("r", "h1")].state == "pending"
    assert events(m.step(T0 + 300, ob(95))) == ["firing"]
    assert m.open[("r", "h1")].fired_at == T0 + 300


def test_pending_that_clears_before_for_is_dropped_without_history() -> None:
    m = Machine(rule(for_s=300))
    m.step(T0, ob(95))
    out = m.step(T0 + 60, ob(10))
    assert events(out) == ["dropped"]
    assert out.dropped and not m.open and not m.history


def test_a_new_breach_after_resolution_is_a_new_episode() -> None:
    m = Machine(rule())
    m.step(T0, ob(95))
    first = m.open[("r", "h1")].id
    m.step(T0 + 60, ob(10))
    m.step(T0 + 120, ob(95))
    assert m.open[("r", "h1")].id != first
    assert [a.id for a in m.history] == [first]


def test_object_that_disappears_resolves() -> None:
    m = Machine(rule())
    m.step(T0, ob(95))
    assert events(m.step(T0 + 60)) == ["resolved"]


def test_dedup_by_rule_and_object_keeps_the_worst_value() -> None:
    m = Machine(rule(), rule("low", op="<=", threshold=10))
    out = m.step(T0, ob(91), ob(97), ob(93), ob(8, rule_name="low"), ob(3, rule_name="low"), ob(95, obj="h2"))
    assert sorted(events(out)) == ["firing"] * 3
    assert m.open[("r", "h1")].value == 97
    assert m.open[("low", "h1")].value == 3
    assert len(m.open) == 3


def test_threshold_comparisons() -> None:
    r = rule(op=">", threshold=5)
    assert r.breached(6, 5) and not r.breached(5, 5)
    assert rule(op="<", threshold=5).breached(4, 5)
    assert not rule().breached(float("nan"), 1)


def test_flapping_is_damped_to_a_few_notifications() -> None:
    settings = EvalSettings(flap_window_s=3600, flap_threshold=3, flap_hold_s=1800)
    m = Machine(rule(), settings=settings)
    sent = []
    for i in range(30):  # the condition toggles every minute for half an hour
        out = m.step(T0 + 60 * i, ob(95 if i % 2 == 0 else 10))
        sent += [e for e in events(out) if e in ("firing", "resolved")]
    # two full episodes, then the third fires flapping and is held firing
    assert sent == ["firing", "resolved", "firing", "resolved", "firing"]
    alert = m.open[("r", "h1")]
    assert alert.flapping and alert.state == "firing"
    # quiet for the hold time (since the last clear, at i = 29): resolves once
    quiet = T0 + 60 * 29
    assert alert.clear_since == quiet
    assert events(m.step(quiet + 1799, ob(10))) == []
    assert events(m.step(quiet + 1800, ob(10))) == ["resolved"]


def test_flapping_needs_the_episodes_within_the_window() -> None:
    m = Machine(rule(), settings=EvalSettings(flap_window_s=600, flap_threshold=3))
    for i in range(3):
        m.step(T0 + 3600 * i, ob(95))
        m.step(T0 + 3600 * i + 60, ob(10))
    assert all(not a.flapping for a in m.history)


def test_keep_firing_for_holds_a_brief_clear() -> None:
    m = Machine(rule(keep_firing_for_s=300))
    m.step(T0, ob(95))
    assert events(m.step(T0 + 60, ob(10))) == []
    assert m.open[("r", "h1")].clear_since == T0 + 60
    assert events(m.step(T0 + 120, ob(95))) == []  # breached again: the same episode goes on
    assert m.open[("r", "h1")].clear_since is None
    m.step(T0 + 180, ob(10))
    assert events(m.step(T0 + 480, ob(10))) == ["resolved"]


def test_overrides_most_specific_wins() -> None:
    policy = Policy(
        thresholds={"r": 80},
        overrides=(
            Override(host="h1", thresholds={"r": 99}),
            Override(tenant="t1", thresholds={"r": 85}),
            Override(tenant="t1", site="rathaus", thresholds={"r": 90}, for_s={"r": 600}),
            Override(tenant="t2", disabled=frozenset({"r"})),
        ),
    )
    r = rule(threshold=70, for_s=60)
    assert policy.resolve(r, Scope("t1", "rathaus", "h1")).threshold == 99
    assert policy.resolve(r, Scope("t1", "rathaus", "h2")).threshold == 90
    assert policy.resolve(r, Scope("t1", "rathaus", "h2")).for_s == 600
    assert policy.resolve(r, Scope("t1", "bauhof", "h2")).threshold == 85
    assert policy.resolve(r, Scope("t3", "bauhof", "x", host_id="h1")).threshold == 99  # host matches the agent id
    assert policy.resolve(r, Scope("t3", "", "")).threshold == 80
    assert not policy.resolve(r, Scope("t2", "", "")).enabled
    m = Machine(r, policy=policy)
    out = m.step(T0, ob(95, obj="a", tenant="t2"), ob(86, obj="b", tenant="t1", site="bauhof"), ob(86, obj="h1"))
    assert [t.alert.object for t in out.transitions] == ["b"]
    assert m.open[("r", "b")].threshold == 85


def test_ack_survives_evaluation_and_expires_when_configured() -> None:
    m = Machine(rule(), settings=EvalSettings(ack_expiry_s=3600))
    m.step(T0, ob(95))
    key = ("r", "h1")
    m.open[key] = dataclasses.replace(m.open[key], ack=Ack("token:abc", T0 + 10, "bin dran"))
    m.step(T0 + 60, ob(95))
    assert m.open[key].ack == Ack("token:abc", T0 + 10, "bin dran")
    out = m.step(T0 + 3610, ob(95))
    assert events(out) == ["ack_expired"]
    assert m.open[key].ack is None


def test_ack_ends_with_its_episode() -> None:
    m = Machine(rule())
    m.step(T0, ob(95))
    key = ("r", "h1")
    m.open[key] = dataclasses.replace(m.open[key], ack=Ack("token:abc", T0, ""))
    m.step(T0 + 60, ob(10))
    m.step(T0 + 120, ob(95))
    assert m.open[key].ack is None


def test_unknown_rule_closes_its_open_episodes() -> None:
    m = Machine(rule())
    m.step(T0, ob(95))
    m.rules = {}
    assert events(m.step(T0 + 60)) == ["resolved"]


# -- notifications -------------------------------------------------------------------------


def silence(*matchers: Matcher, start: float = T0, end: float = T0 + 3600, tenant: str | None = None) -> Silence:
    return Silence(id="s1", matchers=matchers, starts_at=start, ends_at=end, tenant=tenant)


def test_firing_and_resolved_are_notified_once_each() -> None:
    m = Machine(rule())
    alerts, notes = plan(m.step(T0, ob(95)), [], ["webhook", "alertmanager"], T0)
    assert [(n.target, n.event) for n in notes] == [("webhook", "firing"), ("alertmanager", "firing")]
    m.open = {a.key: a for a in alerts}
    alerts, notes = plan(m.step(T0 + 60, ob(95)), [], ["webhook"], T0 + 60)
    assert notes == ()
    m.open = {a.key: a for a in alerts if a.open}
    alerts, notes = plan(m.step(T0 + 120, ob(10)), [], ["webhook"], T0 + 120)
    assert [n.event for n in notes] == ["resolved"]


def test_silenced_alert_is_announced_when_the_silence_ends() -> None:
    m = Machine(rule())
    s = silence(Matcher("site", "rath.*", is_regex=True), end=T0 + 600)
    out = m.step(T0, ob(95, labels={"host": "h1", "site": "rathaus"}))
    alerts, notes = plan(out, [s], ["webhook"], T0)
    assert notes == () and not alerts[0].notified
    m.open = {a.key: a for a in alerts}
    alerts, notes = plan(m.step(T0 + 300, ob(95, labels={"site": "rathaus"})), [s], ["webhook"], T0 + 300)
    assert notes == ()
    m.open = {a.key: a for a in alerts}
    alerts, notes = plan(m.step(T0 + 600, ob(95, labels={"site": "rathaus"})), [s], ["webhook"], T0 + 600)
    assert [n.event for n in notes] == ["firing"]


def test_resolution_of_an_alert_never_announced_is_not_sent() -> None:
    m = Machine(rule())
    s = silence(Matcher("host", "h1"))
    alerts, _ = plan(m.step(T0, ob(95)), [s], ["webhook"], T0)
    m.open = {a.key: a for a in alerts}
    _, notes = plan(m.step(T0 + 60, ob(10)), [s], ["webhook"], T0 + 60)
    assert notes == ()


def test_lapsed_ack_announces_again() -> None:
    m = Machine(rule(), settings=EvalSettings(ack_expiry_s=600))
    alerts, _ = plan(m.step(T0, ob(95)), [], ["webhook"], T0)
    m.open = {a.key: dataclasses.replace(a, ack=Ack("x", T0, "")) for a in alerts}
    _, notes = plan(m.step(T0 + 600, ob(95)), [], ["webhook"], T0 + 600)
    assert [n.event for n in notes] == ["firing"]


def test_silence_matching() -> None:
    labels = {"alertname": "disk_full", "tenant": "t1", "site": "rathaus", "host": "fs01"}
    assert silencing(labels, [silence(Matcher("host", "fs01"))], T0)
    assert not silencing(labels, [silence(Matcher("host", "fs0"))], T0)
    assert silencing(labels, [silence(Matcher("host", "fs0[0-9]", True))], T0)
    assert not silencing(labels, [silence(Matcher("host", "fs", True))], T0)  # anchored like Alertmanager
    assert not silencing(labels, [silence(Matcher("host", "fs01"), start=T0 + 1)], T0)  # not yet
    assert not silencing(labels, [silence(Matcher("host", "fs01"), end=T0)], T0)  # over
    assert not silencing(labels, [silence(Matcher("host", "fs01"), tenant="t2")], T0)  # other tenant's silence
    assert not silencing(labels, [silence(Matcher("host", "(", True))], T0)


# -- the built-in rules ----------------------------------------------------------------------


def test_builtin_rules_are_unique_and_render_in_both_languages() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    for r in RULES:
        assert by_name(r.name) is r
        for lang in ("de", "en"):
            assert render(r.summary.get(lang), {}) != ""
    assert render("{a:.1f} {b} {c:.1f}", {"a": 1.25, "c": "x"}) == "1.2 ? x"


@pytest.mark.parametrize("rule_name", [r.name for r in RULES])
def test_every_builtin_rule_has_a_promql_expression_with_its_threshold(rule_name: str) -> None:
    r = by_name(rule_name)
    assert r is not None and "{threshold}" in r.expr and "leitstand_" in r.expr
