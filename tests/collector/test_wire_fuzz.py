"""The wire decoder on arbitrary input: a Batch or a WireError naming the
problem, never any other exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.wire import Batch, WireError, decode_batch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)

report_keys = st.sampled_from(["seq", "ts", "interval_s", "cpu", "memory", "disks", "net", "load1", "sessions"])


@settings(max_examples=300)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_wire_error(raw: bytes) -> None:
    try:
        assert isinstance(decode_batch(raw), Batch)
    except WireError as exc:
        assert str(exc) in ("malformed JSON", "invalid report batch")
        assert exc.detail


@settings(max_examples=300)
@given(
    agent=st.dictionaries(st.sampled_from(["id", "hostname", "role", "boot_time"]), json_values, max_size=4),
    report=st.dictionaries(report_keys, json_values, max_size=9),
)
def test_structurally_plausible_bodies_decode_or_name_the_field(agent: dict[str, Any], report: dict[str, Any]) -> None:
    body = json.dumps({"agent": agent, "reports": [report]}).encode()
    try:
        batch = decode_batch(body)
    except WireError as exc:
        assert exc.detail and ("$" in exc.detail[0] or "Object missing" in exc.detail[0] or "JSON" in str(exc))
    else:
        assert batch.reports[0].seq >= 1
