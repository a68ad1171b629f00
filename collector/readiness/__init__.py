"""Failover readiness of KRITIS applications (issue 5, DESIGN.md "Failover readiness").

- ``model``: the application model and evidence snapshots (plain data);
- ``checks``: pure check functions (no I/O), each a pass/warn/fail verdict with
  findings (evidence) and the runbook that fixes it, and the pure evaluation
  of one application;
- ``messages``: the German/English catalog the findings are rendered with;
- ``config``: the ``[readiness]`` section of the collector's TOML;
- ``evaluate``: gathers evidence from the store and records status history
  and failover tests;
- ``api``, ``report``, ``cli``: HTTP endpoints, the annual review export and the
  ``leitstand-collector readiness`` subcommands.
"""
