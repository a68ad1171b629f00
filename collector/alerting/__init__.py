"""Alerts that link to runbooks (issue 6, DESIGN.md "Alerts and runbooks").

- ``rules``: the built-in rules (frozen data, German/English texts, PromQL);
- ``metric_names``: the Prometheus series the rules are written against;
- ``policy``: thresholds and ``for`` per tenant, site or host;
- ``model``: observations, alerts, transitions, silences (plain data);
- ``evaluate``: the pure state machine (pending → firing → resolved, flapping);
- ``notify``: which notifications an evaluation causes (pure);
- ``gather``: observations from the store (hosts, devices, metering, readiness);
- ``storage``: alerts, silences and the outbox in SQLite;
- ``forward``: delivery to Alertmanager (v2 API) and a webhook, retries, dead letters;
- ``service``: one round (``tick``) and the background schedule;
- ``api``, ``cli``, ``export``, ``runbooks``: HTTP, CLI, Prometheus rule export, runbook files.
"""
