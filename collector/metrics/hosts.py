"""Host families: identity and state of every host, utilization from its
latest report (``hosts.latest``). One query over ``hosts`` for all of them;
the send intervals come from set-based queries over ``samples``
(send_intervals.py), kept for ``SEND_REFRESH_S``.

Utilization is exposed only for hosts that are online: an offline host's
last values are stale, and ``leitstand_host_up`` says why they are missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from agent.wire import Report

from ..alerting import metric_names as m
from . import send_intervals
from .source import Family, Source, counter, gauge

__all__ = ["SEND_REFRESH_S", "host_families", "warm_send_intervals"]

HOST = m.HOST_LABELS
_decode = msgspec.json.Decoder(Report).decode

#: the send intervals of every host are recomputed at most this often
SEND_REFRESH_S = 120.0


def warm_send_intervals(src: Source) -> None:
    """Every host's send interval, as scrapes of all hosts will ask for it,
    ``CHUNK`` hosts at a time: a scrape arriving meanwhile waits for one
    chunk at most, then computes what it still misses itself."""
    hosts = src.conn.execute(
        "SELECT agent_id, interval_s, last_seen FROM hosts WHERE last_seen IS NOT NULL ORDER BY agent_id"
    ).fetchall()
    for start in range(0, len(hosts), send_intervals.CHUNK):
        _send_intervals(src, hosts[start : start + send_intervals.CHUNK])


def _refresh(src: Source) -> None:
    state = src.state
    if src.now - state.send_intervals_at >= SEND_REFRESH_S or src.now < state.send_intervals_at:
        state.send_intervals = send_intervals.window(src.conn, src.now)
        state.send_intervals_at = src.now


def _send_intervals(src: Source, hosts: list[tuple[str, float | None, float]]) -> dict[str, float]:
    """Each host's observed send interval (send_intervals.py), at least its
    sample interval and 1 s, for (agent id, sample interval, last seen).

    The window estimates all hosts together every ``SEND_REFRESH_S``. A host
    the window leaves out (silent: offline, switched off for the night) gets
    the estimate from its last reports, computed for the hosts of this scrape
    only and kept until the host reports again (its last_seen moves): its
    last reports cannot change before that (unless retention prunes them,
    after storage.retention_days of silence), so the kept value is the one
    a new collector computes."""
    state = src.state
    with state.sends_lock:
        _refresh(src)
        window, kept = state.send_intervals, state.send_fallbacks
        silent = [(a, seen) for a, _, seen in hosts if a not in window and kept.get(a, (None, 0.0))[0] != seen]
        if silent:
            estimates = send_intervals.last_reports(src.conn, [a for a, _ in silent])
            kept.update({a: (seen, estimates[a]) for a, seen in silent})
        found = {a: window[a] if a in window else kept[a][1] for a, _, _ in hosts}
    return {a: max(found[a], interval_s or 0.0, 1.0) for a, interval_s, _ in hosts}


def host_families(src: Source) -> Iterator[Family]:
    where, args = src.tenant_sql()
    rows = src.conn.execute(
        "SELECT agent_id, tenant, hostname, role, site, os, version, boot_time, last_seen, latest_ts, interval_s, "
        "reports_total, duplicates_total, gap_count, unknown_fields_total, dead_letters, latest FROM hosts "
        f"WHERE last_seen IS NOT NULL{where} "
        "ORDER BY tenant, hostname",
        args,
    ).fetchall()
    sends = _send_intervals(src, [(r[0], r[10], r[8]) for r in rows])

    info = gauge("leitstand_host_info", "Host identity; always 1.", [*HOST, "os", "version"])
    up = gauge("leitstand_host_up", "1 while the host reports (within hosts.offline_after_s), else 0.", HOST)
    last = gauge(m.HOST_LAST_REPORT_TIMESTAMP, "Unix time the collector last received a report from the host.", HOST)
    send = gauge(m.HOST_SEND_INTERVAL, "Seconds between the host's sends as the collector observes them.", HOST)
    delay = gauge(m.HOST_REPORT_DELAY, "Arrival time minus timestamp of the host's newest report.", HOST)
    gaps = gauge(m.HOST_DATA_GAPS, "Open seq gaps (reports that never arrived) of the host.", HOST)
    reports = counter("leitstand_host_reports_total", "Reports stored for the host.", HOST)
    dups = counter("leitstand_host_duplicate_reports_total", "Resent reports acknowledged and ignored.", HOST)
    unknown = counter(
        "leitstand_host_unknown_field_batches_total",
        "Batches of the host that carried fields this collector does not know (ignored; see the host's detail).",
        HOST,
    )
    dead = gauge("leitstand_host_dead_letters", "Reports the agent moved to its dead-letter table.", HOST)
    boot = gauge("leitstand_host_boot_time_seconds", "Unix time the host booted.", HOST)
    cpu = gauge(m.HOST_CPU_PERCENT, "CPU busy percent of the latest report (0-100).", HOST)
    cores = gauge("leitstand_host_cpus", "Logical CPUs of the host.", HOST)
    busy = counter("leitstand_host_cpu_busy_seconds_total", "CPU busy seconds since boot, all cores.", HOST)
    load1 = gauge("leitstand_host_load1", "1-minute load average.", HOST)
    sessions = gauge("leitstand_host_sessions", "Interactive sessions on the host.", HOST)
    mem_used = gauge(m.HOST_MEMORY_USED_BYTES, "Memory in use.", HOST)
    mem_total = gauge(m.HOST_MEMORY_TOTAL_BYTES, "Memory installed.", HOST)
    swap_used = gauge("leitstand_host_swap_used_bytes", "Swap in use.", HOST)
    swap_total = gauge("leitstand_host_swap_size_bytes", "Swap configured.", HOST)
    disk_used = gauge(m.HOST_DISK_USED_BYTES, "Filesystem space in use.", [*HOST, "mount"])
    disk_size = gauge(m.HOST_DISK_SIZE_BYTES, "Filesystem size.", [*HOST, "mount"])
    disk_read = counter("leitstand_host_disk_read_bytes_total", "Bytes read since boot.", [*HOST, "mount"])
    disk_written = counter("leitstand_host_disk_written_bytes_total", "Bytes written since boot.", [*HOST, "mount"])
    rx = counter("leitstand_host_network_receive_bytes_total", "Bytes received since boot.", [*HOST, "nic"])
    tx = counter("leitstand_host_network_transmit_bytes_total", "Bytes sent since boot.", [*HOST, "nic"])
    rx_err = counter("leitstand_host_network_receive_errors_total", "Receive errors since boot.", [*HOST, "nic"])
    tx_err = counter("leitstand_host_network_transmit_errors_total", "Transmit errors since boot.", [*HOST, "nic"])

    for (
        agent_id,
        tenant,
        hostname,
        role,
        site,
        os_,
        version,
        boot_time,
        last_seen,
        latest_ts,
        _interval,
        n_reports,
        n_dups,
        n_gaps,
        n_unknown,
        n_dead,
        latest,
    ) in rows:
        h = [tenant, site, hostname, agent_id, role]
        online = src.now - last_seen <= src.offline_after_s
        info.add_metric([*h, os_, version], 1.0)
        up.add_metric(h, 1.0 if online else 0.0)
        last.add_metric(h, last_seen)
        send.add_metric(h, sends[agent_id])
        if latest_ts is not None:
            delay.add_metric(h, last_seen - latest_ts)
        gaps.add_metric(h, n_gaps)
        reports.add_metric(h, n_reports)
        dups.add_metric(h, n_dups)
        unknown.add_metric(h, n_unknown)
        dead.add_metric(h, n_dead)
        boot.add_metric(h, boot_time)
        if not online or not latest:
            continue
        r = _decode(latest)
        if r.cpu is not None:
            cpu.add_metric(h, r.cpu.percent)
            cores.add_metric(h, r.cpu.count)
            busy.add_metric(h, r.cpu.busy_seconds_total)
        if r.load1 is not None:
            load1.add_metric(h, r.load1)
        if r.sessions is not None:
            sessions.add_metric(h, r.sessions)
        if r.memory is not None:
            mem_used.add_metric(h, r.memory.used_bytes)
            mem_total.add_metric(h, r.memory.total_bytes)
            swap_used.add_metric(h, r.memory.swap_used_bytes)
            swap_total.add_metric(h, r.memory.swap_total_bytes)
        for d in r.disks:
            hm = [*h, d.mount]
            disk_used.add_metric(hm, d.used_bytes)
            disk_size.add_metric(hm, d.total_bytes)
            disk_read.add_metric(hm, d.read_bytes_total)
            disk_written.add_metric(hm, d.write_bytes_total)
        for n in r.net:
            hn = [*h, n.nic]
            rx.add_metric(hn, n.rx_bytes_total)
            tx.add_metric(hn, n.tx_bytes_total)
            rx_err.add_metric(hn, n.rx_errors_total)
            tx_err.add_metric(hn, n.tx_errors_total)
    yield from (
        info,
        up,
        last,
        send,
        delay,
        gaps,
        reports,
        dups,
        unknown,
        dead,
        boot,
        cpu,
        cores,
        busy,
        load1,
        sessions,
    )
    yield from (mem_used, mem_total, swap_used, swap_total, disk_used, disk_size, disk_read, disk_written)
    yield from (rx, tx, rx_err, tx_err)
