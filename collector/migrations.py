"""Schema migrations, applied at start-up by every entry point that opens the store."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["ROLLUPS_DDL", "migrations"]

migrations = Migrations("leitstand.collector")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE tenants (
            name TEXT PRIMARY KEY,
            created_at REAL NOT NULL
        );
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            tenant TEXT REFERENCES tenants(name),
            agent_id TEXT,
            label TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE hosts (
            agent_id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL REFERENCES tenants(name),
            hostname TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'server',
            site TEXT NOT NULL DEFAULT '',
            os TEXT NOT NULL DEFAULT '',
            version TEXT NOT NULL DEFAULT '',
            boot_time REAL NOT NULL DEFAULT 0,
            enrolled_at REAL NOT NULL,
            -- set by (re-)enrollment: a restarted seq opens a new epoch
            rebase_allowed INTEGER NOT NULL DEFAULT 0,
            epoch INTEGER NOT NULL DEFAULT 0,
            last_seq INTEGER NOT NULL DEFAULT 0,
            last_ts REAL,
            latest_ts REAL,
            last_seen REAL,
            interval_s REAL,
            reports_total INTEGER NOT NULL DEFAULT 0,
            duplicates_total INTEGER NOT NULL DEFAULT 0,
            gap_count INTEGER NOT NULL DEFAULT 0,
            latest TEXT
        );
        CREATE INDEX hosts_tenant ON hosts(tenant, site, role);
        CREATE TABLE samples (
            agent_id TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,
            received_at REAL NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (agent_id, epoch, seq)
        ) WITHOUT ROWID;
        CREATE INDEX samples_agent_ts ON samples(agent_id, ts);
        CREATE INDEX samples_received ON samples(received_at);
        -- seq ranges (inclusive) an agent skipped: its spool overflowed, or a
        -- report is still in flight; a late report fills its range.
        CREATE TABLE gaps (
            agent_id TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            from_seq INTEGER NOT NULL,
            to_seq INTEGER NOT NULL,
            detected_at REAL NOT NULL,
            PRIMARY KEY (agent_id, epoch, from_seq)
        );
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT ''
        );
        """
    )


@migrations()
def m002_metering(db: Database) -> None:
    # Quantities are integers in each meter's scaled unit (metering/model.py):
    # exact sums, independent of arrival order. Kept ten years; never pruned
    # with raw samples.
    db.executescript(
        """
        -- what metering keeps of each report / device reading, to pair a
        -- late point with its neighbours; pruned after metering.points_days
        CREATE TABLE meter_points (
            stream TEXT NOT NULL,          -- 'h:<agent>' or 'd:<device>'
            k1 INTEGER NOT NULL,           -- epoch (hosts) or 0 (devices)
            k2 REAL NOT NULL,              -- seq (hosts) or ts (devices)
            ts REAL NOT NULL,
            tenant TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (stream, k1, k2)
        ) WITHOUT ROWID;
        CREATE TABLE ledger (
            tenant TEXT NOT NULL,
            hour INTEGER NOT NULL,         -- UTC hour start, Unix seconds
            meter TEXT NOT NULL,
            dim TEXT NOT NULL,
            scaled INTEGER NOT NULL,
            PRIMARY KEY (tenant, hour, meter, dim)
        ) WITHOUT ROWID;
        CREATE TABLE ledger_subject (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            kind TEXT NOT NULL,            -- host | device
            subject TEXT NOT NULL,
            meter TEXT NOT NULL,
            dim TEXT NOT NULL,
            scaled INTEGER NOT NULL,
            PRIMARY KEY (tenant, period, kind, subject, meter, dim)
        ) WITHOUT ROWID;
        -- late data for a closed period, booked into a later open one
        CREATE TABLE adjustments (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            booked_period TEXT NOT NULL,
            for_period TEXT NOT NULL,
            meter TEXT NOT NULL,
            dim TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            scaled INTEGER NOT NULL,
            booked_on TEXT NOT NULL,
            booked_at REAL NOT NULL
        );
        CREATE INDEX adjustments_booked ON adjustments(tenant, booked_period);
        CREATE TABLE workplace_days (
            agent_id TEXT NOT NULL,
            day TEXT NOT NULL,             -- Europe/Berlin date
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            late INTEGER NOT NULL DEFAULT 0, -- arrived after its period closed
            PRIMARY KEY (agent_id, day)
        ) WITHOUT ROWID;
        CREATE INDEX workplace_days_period ON workplace_days(tenant, period);
        -- reports that arrived per host, epoch and period: coverage = arrived / seq span
        CREATE TABLE coverage (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            stream TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            role TEXT NOT NULL,
            reports INTEGER NOT NULL,
            min_seq INTEGER NOT NULL,
            max_seq INTEGER NOT NULL,
            PRIMARY KEY (tenant, period, stream, epoch)
        ) WITHOUT ROWID;
        CREATE TABLE device_coverage (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            device TEXT NOT NULL,
            polls INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            PRIMARY KEY (tenant, period, device)
        ) WITHOUT ROWID;
        -- closed periods; `snapshot` freezes what is not in the ledger
        -- (coverage, gaps, tariff) so a re-export is byte-identical
        CREATE TABLE periods (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            closed_at REAL NOT NULL,
            closed_by TEXT NOT NULL,
            snapshot TEXT NOT NULL,
            PRIMARY KEY (tenant, period)
        );
        -- every export of a closed period, append-only (ten-year retention)
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            format TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            content BLOB NOT NULL,
            created_at REAL NOT NULL,
            UNIQUE (tenant, period, format)
        );
        """
    )


@migrations()
def m003_devices(db: Database) -> None:
    """SNMP device inventory (issue 3), filled from the readings in each report."""
    db.executescript(
        """
        -- one row per device id; poller_tenant is the tenant of the agent that
        -- first reported it: only agents of that tenant may report it again
        CREATE TABLE devices (
            device_id TEXT PRIMARY KEY,
            poller_tenant TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            last_ts REAL NOT NULL,
            last_ok_ts REAL,
            ok INTEGER NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            readings_total INTEGER NOT NULL DEFAULT 0,
            failures_total INTEGER NOT NULL DEFAULT 0,
            latest TEXT NOT NULL
        );
        CREATE INDEX devices_tenant ON devices(poller_tenant, kind);
        CREATE TABLE device_readings (
            device_id TEXT NOT NULL,
            ts REAL NOT NULL,
            agent_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            ok INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (device_id, ts, agent_id)
        ) WITHOUT ROWID;
        CREATE INDEX device_readings_received ON device_readings(received_at);
        -- the collector config's [devices] assign table, synced at start-up
        CREATE TABLE device_assignments (
            device_id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL
        );
        -- who owns a device: the config's assignment, else the polling agent's tenant
        CREATE VIEW device_owners AS
            SELECT d.device_id, coalesce(a.tenant, d.poller_tenant) AS tenant
            FROM devices d LEFT JOIN device_assignments a ON a.device_id = d.device_id;
        """
    )


@migrations()
def m005_point_horizons(db: Database) -> None:
    # Device metering points older than this were pruned: a reading older
    # than its stream's horizon cannot be placed between its true neighbours.
    db.executescript(
        """
        CREATE TABLE point_horizons (
            stream TEXT PRIMARY KEY,
            pruned_before REAL NOT NULL
        );
        """
    )


@migrations()
def m004_readiness(db: Database) -> None:
    """Failover readiness (issue 5): status transitions and recorded failover tests.

    Both are audit records (the annual emergency-management review reads
    them): kept for good, never pruned with raw samples.
    """
    db.executescript(
        """
        -- one row per status change of an application (and its first status)
        CREATE TABLE readiness_history (
            id INTEGER PRIMARY KEY,
            app TEXT NOT NULL,
            tenant TEXT NOT NULL,
            ts REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ready', 'degraded', 'not_ready')),
            score INTEGER NOT NULL,
            failed TEXT NOT NULL DEFAULT '[]'   -- JSON list of the failed check ids
        );
        CREATE INDEX readiness_history_app ON readiness_history(app, ts);
        CREATE INDEX readiness_history_tenant ON readiness_history(tenant, ts);
        -- failover tests recorded by the admin (leitstand-collector readiness record-test)
        CREATE TABLE failover_tests (
            id INTEGER PRIMARY KEY,
            app TEXT NOT NULL,
            tenant TEXT NOT NULL,
            date TEXT NOT NULL,                 -- YYYY-MM-DD, Europe/Berlin
            result TEXT NOT NULL CHECK (result IN ('passed', 'failed')),
            note TEXT NOT NULL DEFAULT '',
            recorded_at REAL NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE INDEX failover_tests_app ON failover_tests(app, date);
        """
    )


@migrations()
def m006_alerts(db: Database) -> None:
    """Alerting (issue 6): alert episodes (active and resolved history), silences,
    and the outbox of notifications to Alertmanager and webhooks (dead letters
    stay in it with status 'dead')."""
    db.executescript(
        """
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            object TEXT NOT NULL,
            tenant TEXT NOT NULL,
            severity TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
            labels TEXT NOT NULL DEFAULT '{}',      -- JSON
            params TEXT NOT NULL DEFAULT '{}',      -- JSON: what the message templates need
            value REAL,
            threshold REAL,
            started_at REAL NOT NULL,
            fired_at REAL,
            updated_at REAL NOT NULL,
            resolved_at REAL,
            clear_since REAL,
            flapping INTEGER NOT NULL DEFAULT 0,
            notified INTEGER NOT NULL DEFAULT 0,    -- its firing notification went out
            ack_by TEXT,
            ack_at REAL,
            ack_comment TEXT
        );
        -- dedup: one open episode per rule and object
        CREATE UNIQUE INDEX alerts_open ON alerts(rule, object) WHERE state != 'resolved';
        CREATE INDEX alerts_state ON alerts(state, tenant, updated_at);
        CREATE INDEX alerts_key ON alerts(rule, object, fired_at);
        CREATE TABLE silences (
            id TEXT PRIMARY KEY,
            tenant TEXT,                            -- NULL: made by an admin, any tenant
            matchers TEXT NOT NULL,                 -- JSON list of {name, value, is_regex}
            starts_at REAL NOT NULL,
            ends_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            deleted_at REAL,
            deleted_by TEXT
        );
        CREATE INDEX silences_ends ON silences(ends_at);
        CREATE TABLE alert_notifications (
            id INTEGER PRIMARY KEY,
            alert_id TEXT NOT NULL,
            target TEXT NOT NULL,                   -- alertmanager | webhook
            event TEXT NOT NULL,                    -- firing | resolved
            payload TEXT NOT NULL,                  -- JSON snapshot of the alert
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
            last_error TEXT NOT NULL DEFAULT '',
            delivered_at REAL
        );
        CREATE INDEX alert_notifications_due ON alert_notifications(status, next_attempt_at);
        """
    )


#: The rollups table (collector/rollups.py); here, as the schema imports nothing
#: that imports the database. Portable DDL: the SQLite migration runs it as is,
#: the PostgreSQL backend too (TEXT, BIGINT and DOUBLE PRECISION mean the same in
#: both; SQLite maps them to TEXT, INTEGER and REAL affinity).
ROLLUPS_DDL = """
CREATE TABLE IF NOT EXISTS rollups (
    agent_id TEXT NOT NULL,
    resolution_s BIGINT NOT NULL,
    bucket BIGINT NOT NULL,            -- bucket start, Unix seconds, a multiple of resolution_s
    samples BIGINT NOT NULL,           -- raw reports in the bucket
    cpu_pct_avg DOUBLE PRECISION,
    cpu_pct_max DOUBLE PRECISION,
    mem_pct_avg DOUBLE PRECISION,      -- memory used / total x 100
    mem_pct_max DOUBLE PRECISION,
    load1_avg DOUBLE PRECISION,
    load1_max DOUBLE PRECISION,
    disk_pct_max DOUBLE PRECISION,     -- the fullest filesystem's used %
    rx_bytes BIGINT,                   -- counter increase over the bucket, all interfaces
    tx_bytes BIGINT,
    sessions_max BIGINT,
    PRIMARY KEY (agent_id, resolution_s, bucket)
);
"""


@migrations()
def m007_rollups(db: Database) -> None:
    """Downsampled history (collector/rollups.py): kept after raw samples are pruned."""
    db.executescript(ROLLUPS_DDL)


@migrations()
def m008_quarantine(db: Database) -> None:
    """Implausible quantities held for a billing operator's review (issue 13),
    and inventory events found between two metering points (a device replaced).

    Both are keyed by the pair of points that produced them, so re-pairing a
    late point can find and supersede them again. `quantity` is the scaled
    integer as text: a hostile reading may exceed 64 bits."""
    db.executescript(
        """
        CREATE TABLE quarantine (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,           -- Berlin month of the span's end
            stream TEXT NOT NULL,           -- 'h:<agent>' or 'd:<tenant>/<device>'
            subject_kind TEXT NOT NULL,     -- host | device
            subject TEXT NOT NULL,          -- agent id or device id
            agent_id TEXT NOT NULL,         -- the agent that reported it
            rule TEXT NOT NULL,
            meter TEXT NOT NULL,
            dim TEXT NOT NULL,
            quantity TEXT NOT NULL,
            start_ts REAL NOT NULL,
            end_ts REAL NOT NULL,
            evidence TEXT NOT NULL,
            raw TEXT NOT NULL,              -- JSON
            status TEXT NOT NULL,           -- pending | released | dismissed | superseded
            reviewed_by TEXT,
            reviewed_at REAL,
            reason TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX quarantine_period ON quarantine(tenant, period, status);
        CREATE INDEX quarantine_pair ON quarantine(stream, start_ts, end_ts);
        CREATE INDEX quarantine_status ON quarantine(status, tenant);
        CREATE TABLE inventory_events (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            stream TEXT NOT NULL,
            subject_kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            start_ts REAL NOT NULL,
            end_ts REAL NOT NULL,
            evidence TEXT NOT NULL,
            raw TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX inventory_events_pair ON inventory_events(stream, start_ts, end_ts);
        CREATE INDEX inventory_events_tenant ON inventory_events(tenant, created_at);
        """
    )


@migrations()
def m010_identity(db: Database) -> None:
    """Enroll tokens expire and may carry a use limit; re-enrolling an existing
    agent id needs an admin or an enroll token created with --replace
    (collector/enroll.py). NULL: never expires, no limit."""
    db.executescript(
        """
        ALTER TABLE tokens ADD COLUMN expires_at REAL;
        ALTER TABLE tokens ADD COLUMN uses_max INTEGER;
        ALTER TABLE tokens ADD COLUMN uses_left INTEGER;
        ALTER TABLE tokens ADD COLUMN may_replace INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m009_device_tenancy(db: Database) -> None:
    """Devices are named within their owner tenant (issue 13): (tenant, device_id)
    replaces the global, first-come device id. Each existing device keeps the
    owner it resolved to (assignment, else its poller's tenant); its readings
    and its metering streams move with it (`d:<device>` -> `d:<tenant>/<device>`).
    An assignment now names the pollers allowed to report the device."""
    db.executescript(
        """
        CREATE TABLE devices_owned (
            tenant TEXT NOT NULL,
            device_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            last_ts REAL NOT NULL,
            last_ok_ts REAL,
            ok INTEGER NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            readings_total INTEGER NOT NULL DEFAULT 0,
            failures_total INTEGER NOT NULL DEFAULT 0,
            latest TEXT NOT NULL,
            PRIMARY KEY (tenant, device_id)
        );
        INSERT INTO devices_owned (tenant, device_id, agent_id, kind, address, first_seen, last_seen, last_ts,
                                   last_ok_ts, ok, error, readings_total, failures_total, latest)
            SELECT o.tenant, d.device_id, d.agent_id, d.kind, d.address, d.first_seen, d.last_seen, d.last_ts,
                   d.last_ok_ts, d.ok, d.error, d.readings_total, d.failures_total, d.latest
            FROM devices d JOIN device_owners o ON o.device_id = d.device_id;
        CREATE TABLE device_readings_owned (
            tenant TEXT NOT NULL,
            device_id TEXT NOT NULL,
            ts REAL NOT NULL,
            agent_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            ok INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (tenant, device_id, ts, agent_id)
        ) WITHOUT ROWID;
        INSERT INTO device_readings_owned (tenant, device_id, ts, agent_id, received_at, ok, data)
            SELECT o.tenant, r.device_id, r.ts, r.agent_id, r.received_at, r.ok, r.data
            FROM device_readings r JOIN device_owners o ON o.device_id = r.device_id;
        -- metering streams follow their device; a stream without a device row
        -- keeps the tenant its points were booked for. Two steps through a
        -- prefix no stream has, so no renamed stream meets one not yet renamed.
        UPDATE meter_points SET stream = '~d:' || coalesce(
                (SELECT o.tenant FROM device_owners o WHERE o.device_id = substr(meter_points.stream, 3)),
                meter_points.tenant) || '/' || substr(stream, 3)
            WHERE stream LIKE 'd:%';
        UPDATE meter_points SET stream = substr(stream, 2) WHERE stream LIKE '~d:%';
        DELETE FROM point_horizons WHERE stream LIKE 'd:%' AND NOT EXISTS (
            SELECT 1 FROM device_owners o WHERE o.device_id = substr(point_horizons.stream, 3));
        UPDATE point_horizons SET stream = '~d:' || (
                SELECT o.tenant FROM device_owners o WHERE o.device_id = substr(point_horizons.stream, 3))
                || '/' || substr(stream, 3)
            WHERE stream LIKE 'd:%';
        UPDATE point_horizons SET stream = substr(stream, 2) WHERE stream LIKE '~d:%';
        DROP VIEW device_owners;
        DROP TABLE devices;
        DROP TABLE device_readings;
        DROP TABLE device_assignments;
        ALTER TABLE devices_owned RENAME TO devices;
        ALTER TABLE device_readings_owned RENAME TO device_readings;
        -- an admin's look-up by id alone: which tenants have one of that name
        CREATE INDEX devices_id ON devices(device_id);
        CREATE INDEX device_readings_received ON device_readings(received_at);
        -- the config's [devices.assign."<id>"] tables, synced at start-up: one
        -- row per named poller; a device id listed here is refused from any other agent
        CREATE TABLE device_assignments (
            device_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            tenant TEXT NOT NULL,
            PRIMARY KEY (device_id, agent_id)
        );
        -- readings refused by ownership, per reporting agent and device id
        CREATE TABLE device_refusals (
            agent_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            tenant TEXT NOT NULL,           -- the reporting agent's tenant
            owner TEXT NOT NULL,            -- the tenant the device is assigned to
            refused_total INTEGER NOT NULL,
            first_at REAL NOT NULL,
            last_at REAL NOT NULL,
            logged_at REAL NOT NULL,
            PRIMARY KEY (agent_id, device_id)
        );
        """
    )


@migrations()
def m011_host_health(db: Database) -> None:
    """What an agent tells about itself: unknown fields it sent (issue 13) and
    reports it moved to its dead-letter table (issue 14)."""
    db.executescript(
        """
        ALTER TABLE hosts ADD COLUMN unknown_fields TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE hosts ADD COLUMN unknown_fields_total INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE hosts ADD COLUMN dead_letters INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m012_invoices(db: Database) -> None:
    """E-invoice numbers (issue 17): one per tenant and closed period, assigned at
    its first XRechnung or ZUGFeRD export and never reused (ten-year retention,
    like the exports that carry it)."""
    db.executescript(
        """
        CREATE TABLE invoices (
            tenant TEXT NOT NULL,
            period TEXT NOT NULL,
            seq INTEGER NOT NULL UNIQUE,
            number TEXT NOT NULL UNIQUE,
            issued_at REAL NOT NULL,
            PRIMARY KEY (tenant, period)
        );
        """
    )


def _into_rowid_table(db: Database, table: str, columns: str, key: str, order_by: str, after: str = "") -> None:
    """Move `table` (`columns`: "name TYPE NOT NULL, ...", the key `key`) from
    a WITHOUT ROWID table into a rowid table of the same columns and key,
    every row copied in `order_by` order; `after`: statements to run once it
    stands (its indexes). SQLite only: PostgreSQL's tables are heaps already
    (`pg.translate_ddl` drops WITHOUT ROWID)."""
    names = ", ".join(column.split()[0] for column in columns.split(","))
    db.executescript(
        f"""
        CREATE TABLE {table}_rowid ({columns}, PRIMARY KEY ({key}));
        INSERT INTO {table}_rowid ({names}) SELECT {names} FROM {table} ORDER BY {order_by};
        DROP TABLE {table};
        ALTER TABLE {table}_rowid RENAME TO {table};
        {after}
        """
    )


@migrations()
def m013_samples_rowid(db: Database) -> None:
    """Raw samples in a rowid table (issue 18): a WITHOUT ROWID table keeps each
    ~0.5 KB report inside its key's B-tree, so every new report lands in the
    middle of a full leaf (one per agent) and splits it; in rowid order a
    writer batch's reports share the table's last pages, and only the small
    key index is written per agent. Measured: a third of the insert's CPU and
    half the pages per commit."""
    if not isinstance(db, Database):
        return
    _into_rowid_table(
        db,
        "samples",
        "agent_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, "
        "received_at REAL NOT NULL, data TEXT NOT NULL",
        "agent_id, epoch, seq",
        "received_at",
        "CREATE INDEX samples_agent_ts ON samples(agent_id, ts); "
        "CREATE INDEX samples_received ON samples(received_at);",
    )


@migrations()
def m014_meter_points_rowid(db: Database) -> None:
    """Metering points in a rowid table (issue 18), as `m013_samples_rowid`
    did for samples: in the WITHOUT ROWID table each ~150-byte point lands
    inside its stream's leaf, so every report's point is inserted into the
    middle of the B-tree and the leaves split in turn; in rowid order a
    writer batch's points share the table's last page, and per stream only
    the small key index is written. Measured: the points' insert at a third
    of its CPU, a fifth fewer pages per commit. Same key, still unique.
    stream: 'h:<agent>' or 'd:<device>'; k1: the epoch (hosts) or 0
    (devices); k2: the seq (hosts) or ts (devices)."""
    if not isinstance(db, Database):
        return
    _into_rowid_table(
        db,
        "meter_points",
        "stream TEXT NOT NULL, k1 INTEGER NOT NULL, k2 REAL NOT NULL, ts REAL NOT NULL, tenant TEXT NOT NULL, "
        "data BLOB NOT NULL",
        "stream, k1, k2",
        "ts",
    )
