"""The on-disk outbox: durable seqs, bounded size, consistent after a crash."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from agent import wire
from agent.spool import AckNotes, SendRecord, Spool, SpoolError, encode_report

REPO = Path(__file__).resolve().parents[2]
TS0 = 1763812345.0


def fields(ts: float = TS0, **extra: object) -> dict[str, object]:
    return {"ts": ts, "interval_s": 15.0, "cpu": {"count": 4, "percent": 12.5, "busy_seconds_total": 86123.4}, **extra}


def seqs(spool: Spool) -> list[int]:
    return [seq for seq, _ in spool.peek(1_000_000)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "spool.sqlite"


def test_seq_starts_at_one_and_increases(path: Path) -> None:
    with Spool(path) as spool:
        assert spool.last_seq() == 0
        assert [spool.enqueue(fields()) for _ in range(3)] == [1, 2, 3]
        assert spool.pending_count() == 3
        assert spool.last_seq() == 3


def test_spooled_body_is_the_wire_report_with_its_seq(path: Path) -> None:
    with Spool(path) as spool:
        spool.enqueue(fields(ts=TS0 + 100))
        ((seq, body),) = spool.peek(10)
    report = msgspec.json.decode(body, type=wire.Report)
    assert (seq, report.seq, report.ts, report.cpu) == (1, 1, TS0 + 100, wire.Cpu(4, 12.5, 86123.4))


def test_seq_persists_across_reopen(path: Path) -> None:
    with Spool(path) as spool:
        spool.enqueue(fields())
        spool.enqueue(fields())
    with Spool(path) as spool:
        assert spool.enqueue(fields()) == 3
        assert seqs(spool) == [1, 2, 3]


def test_seq_is_never_reused_after_the_outbox_was_emptied(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(5):
            spool.enqueue(fields())
        assert spool.ack_through(5) == 5
        assert spool.pending_count() == 0
    with Spool(path) as spool:
        # The collector ignores a seq it already stored: a reused 1 would be lost.
        assert spool.enqueue(fields()) == 6


def test_peek_is_oldest_first_and_limited(path: Path) -> None:
    with Spool(path) as spool:
        for i in range(5):
            spool.enqueue(fields(ts=TS0 + i))
        batch = spool.peek(2)
        assert [seq for seq, _ in batch] == [1, 2]
        assert [msgspec.json.decode(body)["ts"] for _, body in batch] == [TS0, TS0 + 1]
        assert spool.pending_count() == 5  # peek does not remove


def test_ack_through_deletes_only_up_to_seq(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(5):
            spool.enqueue(fields())
        before = spool.pending_bytes()
        sizes = {seq: len(body) for seq, body in spool.peek(10)}
        assert spool.ack_through(2) == 2
        assert seqs(spool) == [3, 4, 5]
        assert spool.pending_bytes() == before - sizes[1] - sizes[2]
        assert spool.ack_through(2) == 0  # acknowledging again changes nothing
        assert spool.ack_through(99) == 3
        assert spool.pending_count() == 0
        assert spool.pending_bytes() == 0


def test_pending_bytes_counts_the_stored_bodies(path: Path) -> None:
    with Spool(path) as spool:
        for i in range(7):
            spool.enqueue(fields(ts=TS0 + i, sessions=i))
        assert spool.pending_bytes() == sum(len(body) for _, body in spool.peek(100))


def test_full_spool_drops_the_oldest_and_counts_them(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="leitstand.agent")
    size = len(encode_report(1, fields()))
    with Spool(path, max_bytes=int(size * 3.5)) as spool:
        for _ in range(10):
            spool.enqueue(fields())
        assert seqs(spool) == [8, 9, 10]  # the newest survive, still contiguous
        assert spool.dropped_total() == 7
        assert spool.pending_bytes() <= spool.max_bytes
    drops = [r.levelname for r in caplog.records if "spool full" in r.getMessage()]
    assert drops == ["WARNING"] + ["DEBUG"] * 6  # one warning per overflow episode, not per sample
    with Spool(path, max_bytes=int(size * 3.5)) as spool:
        assert spool.dropped_total() == 7  # the count is durable too
        assert spool.enqueue(fields()) == 11


def test_a_report_larger_than_the_spool_is_kept_alone(path: Path) -> None:
    with Spool(path, max_bytes=10) as spool:
        spool.enqueue(fields())
        spool.enqueue(fields())
        assert seqs(spool) == [2]
        assert spool.dropped_total() == 1


def test_invalid_report_is_refused_without_using_up_a_seq(path: Path) -> None:
    with Spool(path) as spool:
        with pytest.raises(wire.WireError) as caught:
            spool.enqueue(fields(cpu={"count": 4, "percent": 150.0, "busy_seconds_total": 1.0}))
        assert "percent" in " ".join(caught.value.detail)
        with pytest.raises(wire.WireError):
            spool.enqueue(fields(colour="blue"))  # not a Report field
        with pytest.raises(wire.WireError):
            spool.enqueue({**fields(), "seq": 99})
        with pytest.raises(wire.WireError):
            spool.enqueue({"interval_s": 15.0})  # ts missing
        assert spool.pending_count() == 0
        assert spool.enqueue(fields()) == 1


def test_sampler_structs_and_plain_dicts_encode_alike() -> None:
    as_struct = encode_report(1, {"ts": TS0, "interval_s": 15.0, "memory": wire.Memory(8, 4)})
    as_dict = encode_report(1, {"ts": TS0, "interval_s": 15.0, "memory": {"total_bytes": 8, "used_bytes": 4}})
    assert msgspec.json.decode(as_struct) == msgspec.json.decode(as_dict)


def test_spool_is_wal_on_disk(path: Path) -> None:
    Spool(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_second_process_reads_committed_reports(path: Path) -> None:
    with Spool(path) as writer, Spool(path) as reader:  # `leitstand-agent status` beside `run`
        writer.enqueue(fields())
        writer.enqueue(fields())
        assert reader.pending_count() == 2
        assert reader.last_seq() == 2


def test_send_record_round_trips(path: Path) -> None:
    with Spool(path) as spool:
        assert spool.last_send() is None
        spool.record_send(SendRecord(at=1.5, ok=False, detail="HTTP 503", acked_through=4))
    with Spool(path) as spool:
        assert spool.last_send() == SendRecord(at=1.5, ok=False, detail="HTTP 503", acked_through=4)


def test_not_a_database_is_a_spool_error(path: Path) -> None:
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpoolError, match="not a usable spool"):
        Spool(path)


def test_spool_from_a_newer_agent_is_refused(path: Path) -> None:
    Spool(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(SpoolError, match="newer agent"):
        Spool(path)


_WRITER = """
import sys
from agent.spool import Spool
spool = Spool(sys.argv[1])
while True:
    seq = spool.enqueue({"ts": 1763812345.0, "interval_s": 15.0, "sessions": 1})
    sys.stdout.write(f"{seq}\\n")
    sys.stdout.flush()
"""


def test_writer_killed_mid_loop_leaves_a_consistent_spool(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    last_confirmed = 0
    for _round in range(3):  # three crashes into the same file
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        with child.stdout:
            # Readiness by output, not sleep: kill once this round has committed 100 reports.
            target = last_confirmed + 100
            for line in child.stdout:
                last_confirmed = int(line)
                if last_confirmed >= target:
                    break
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL

        with Spool(path) as spool:
            pending = seqs(spool)
            # Every confirmed report is there; one more may have committed before the kill.
            assert pending[-1] >= last_confirmed
            assert pending == list(range(1, pending[-1] + 1))
            assert spool.last_seq() == pending[-1]
            assert spool.pending_bytes() == sum(len(body) for _, body in spool.peek(1_000_000))
            last_confirmed = pending[-1]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Spool(path) as spool:
        assert spool.enqueue(fields()) == last_confirmed + 1


# -- dead letters --------------------------------------------------------------


def test_dead_letter_moves_the_report_out_of_the_outbox_in_one_step(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(5):
            spool.enqueue(fields())
        body_3 = dict(spool.peek(5))[3]
        assert spool.dead_letter(3, 400, "HTTP 400 invalid report batch\nsecond line", at=TS0)
        assert not spool.dead_letter(3, 400, "again", at=TS0)  # not pending any more: nothing happens
        assert seqs(spool) == [1, 2, 4, 5]
        assert spool.pending_count() == 4  # counted, not max - min + 1
        assert spool.pending_bytes() == sum(len(b) for _, b in spool.peek(100))
        (dead,) = spool.dead_letters(bodies=True)
    assert (dead.seq, dead.at, dead.status, dead.body) == (3, TS0, 400, body_3)
    assert dead.error_line == "HTTP 400 invalid report batch"
    with Spool(path) as spool:  # durable
        assert spool.dead_letter_count() == 1
        assert spool.dead_lettered_total() == 1
        assert spool.dead_letters()[0].body == b""  # listed without bodies unless asked


def test_retry_puts_dead_letters_back_under_their_seq(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(4):
            spool.enqueue(fields())
        spool.dead_letter(2, 500, "internal error", at=TS0)
        spool.dead_letter(4, 422, "refused", at=TS0 + 1)
        spool.ack_through(3)
        assert [d.seq for d in spool.dead_letters()] == [4, 2]  # newest first
        assert spool.retry_dead_letters([2, 99]) == [2]
        assert seqs(spool) == [2]
        assert spool.pending_bytes() == sum(len(b) for _, b in spool.peek(100))
        assert spool.retry_dead_letters() == [4]
        assert seqs(spool) == [2, 4]
        assert spool.dead_letter_count() == 0
        assert spool.dead_lettered_total() == 2  # history is not rewritten
        assert spool.enqueue(fields()) == 5  # seqs are still never reused


def test_purge_deletes_only_what_it_is_told(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(3):
            spool.enqueue(fields())
        for seq in (1, 2, 3):
            spool.dead_letter(seq, 400, "bad", at=TS0)
        assert spool.purge_dead_letters([2]) == [2]
        assert [d.seq for d in spool.dead_letters()] == [3, 1]
        assert spool.purge_dead_letters() == [1, 3]
        assert spool.dead_letter_count() == 0
        assert spool.pending_count() == 0


def test_ack_of_a_batch_keeps_a_retried_report_it_did_not_carry(path: Path) -> None:
    with Spool(path) as spool:
        for _ in range(6):
            spool.enqueue(fields())
        spool.dead_letter(3, 400, "bad", at=TS0)
        batch = [seq for seq, _ in spool.peek(10)]  # in flight: 1, 2, 4, 5, 6
        with Spool(path) as admin:  # `deadletter retry` in another process meanwhile
            admin.retry_dead_letters([3])
        assert spool.ack_through(6, sent=batch) == 5
        assert seqs(spool) == [3]
        assert spool.pending_bytes() == len(spool.peek(1)[0][1])


def test_ack_notes_round_trip(path: Path) -> None:
    with Spool(path) as spool:
        assert spool.ack_notes() is None
        spool.record_ack_notes(AckNotes(at=TS0, refused=["device ups-1: owned by tenant b"], unknown_fields=["$.x"]))
    with Spool(path) as spool:
        assert spool.ack_notes() == AckNotes(
            at=TS0, refused=["device ups-1: owned by tenant b"], unknown_fields=["$.x"]
        )


def test_dead_letter_table_is_bounded_and_says_what_it_deleted(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Spool(path, max_bytes=5 * 1000) as spool:  # dead letters: at most 1000 bytes
        for _ in range(12):
            spool.enqueue(fields())
        size = len(spool.peek(1)[0][1])
        for seq in range(1, 13):
            spool.dead_letter(seq, 400, "bad", at=TS0)
        kept = [d.seq for d in spool.dead_letters(bodies=True)]
        assert len(kept) == 1000 // size
        assert kept == list(range(12, 12 - len(kept), -1))  # the newest stay
        assert spool.dead_letters_dropped() == 12 - len(kept)
        assert spool.dead_lettered_total() == 12
    assert "dead-letter table full" in caplog.text
