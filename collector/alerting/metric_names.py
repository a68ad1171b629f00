"""Names of the Prometheus metrics the alert rules are written against.

`leitstand-collector rules export` writes Prometheus alerting rules over these
series; the collector's `/metrics` (issue 7) exposes them under exactly these
names and labels, so both import this module and cannot drift apart.

Common labels: every host series carries ``tenant``, ``site``, ``host``
(hostname), ``agent_id`` and ``role``; device series carry ``tenant``,
``site`` (of the polling agent) and ``device``.
"""

from __future__ import annotations

__all__ = [
    "DEVICE_LABELS",
    "HOST_CPU_PERCENT",
    "HOST_DATA_GAPS",
    "HOST_DISK_SIZE_BYTES",
    "HOST_DISK_USED_BYTES",
    "HOST_LABELS",
    "HOST_LAST_REPORT_TIMESTAMP",
    "HOST_MEMORY_TOTAL_BYTES",
    "HOST_MEMORY_USED_BYTES",
    "HOST_REPORT_DELAY",
    "HOST_SEND_INTERVAL",
    "METERING_COVERAGE_RATIO",
    "METERING_QUARANTINE_PENDING",
    "METRICS",
    "PREFIX",
    "PRINTER_ERROR",
    "PRINTER_SUPPLY_LEVEL_PERCENT",
    "READINESS_STATUS",
    "SWITCH_UPLINK_UP",
    "UPS_ON_BATTERY",
    "UPS_RUNTIME_SECONDS",
]

PREFIX = "leitstand_"

HOST_LABELS = ("tenant", "site", "host", "agent_id", "role")
DEVICE_LABELS = ("tenant", "site", "device")

#: Unix time the collector last received a report from the host (gauge).
HOST_LAST_REPORT_TIMESTAMP = "leitstand_host_last_report_timestamp_seconds"
#: Seconds between the host's sends as the collector observes them (gauge).
HOST_SEND_INTERVAL = "leitstand_host_send_interval_seconds"
#: CPU busy percent of the latest report (gauge, 0-100).
HOST_CPU_PERCENT = "leitstand_host_cpu_percent"
HOST_MEMORY_USED_BYTES = "leitstand_host_memory_used_bytes"
HOST_MEMORY_TOTAL_BYTES = "leitstand_host_memory_total_bytes"
#: Per filesystem, extra label ``mount``.
HOST_DISK_USED_BYTES = "leitstand_host_disk_used_bytes"
HOST_DISK_SIZE_BYTES = "leitstand_host_disk_size_bytes"
#: Arrival time minus timestamp of the newest report: positive is a backlog (or
#: a clock behind), negative a clock ahead.
HOST_REPORT_DELAY = "leitstand_host_report_delay_seconds"
#: Open seq gaps (reports that never arrived) of the host (gauge).
HOST_DATA_GAPS = "leitstand_host_data_gaps"
#: Remaining level of a printer supply, extra label ``supply`` (gauge, 0-100).
PRINTER_SUPPLY_LEVEL_PERCENT = "leitstand_printer_supply_level_percent"
#: 1 per active error condition, extra label ``error`` (jammed, doorOpen, ...).
PRINTER_ERROR = "leitstand_printer_error"
#: 1 while the UPS runs on battery.
UPS_ON_BATTERY = "leitstand_ups_on_battery"
#: Estimated battery runtime of the UPS.
UPS_RUNTIME_SECONDS = "leitstand_ups_runtime_seconds"
#: 1 while a switch uplink is operationally up, extra label ``interface``.
SWITCH_UPLINK_UP = "leitstand_switch_uplink_up"
#: 1 for the application's current status, labels ``tenant``, ``app``, ``status``.
READINESS_STATUS = "leitstand_readiness_status"
#: Share of expected reports that arrived in the running period, labels ``tenant``, ``meter``.
METERING_COVERAGE_RATIO = "leitstand_metering_coverage_ratio"
#: Quantities held in quarantine for review (implausible, not billed), label ``tenant``.
METERING_QUARANTINE_PENDING = "leitstand_metering_quarantine_pending"

METRICS = (
    HOST_LAST_REPORT_TIMESTAMP,
    HOST_SEND_INTERVAL,
    HOST_CPU_PERCENT,
    HOST_MEMORY_USED_BYTES,
    HOST_MEMORY_TOTAL_BYTES,
    HOST_DISK_USED_BYTES,
    HOST_DISK_SIZE_BYTES,
    HOST_REPORT_DELAY,
    HOST_DATA_GAPS,
    PRINTER_SUPPLY_LEVEL_PERCENT,
    PRINTER_ERROR,
    UPS_ON_BATTERY,
    UPS_RUNTIME_SECONDS,
    SWITCH_UPLINK_UP,
    READINESS_STATUS,
    METERING_COVERAGE_RATIO,
    METERING_QUARANTINE_PENDING,
)
