"""Schema migrations, applied at start-up by every entry point that opens the store."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["migrations"]

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
