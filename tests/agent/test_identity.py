"""The agent id: derived from the machine-id, the same as every earlier version derived it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.identity import agent_id_from_machine_id, load_or_create_agent_id

MACHINE_ID = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"


def test_agent_id_is_the_sha256_of_the_prefixed_machine_id(tmp_path: Path) -> None:
    # Built without hashlib (no libcrypto in the agent); hashlib is the reference it must match,
    # or every enrolled agent would come back under a new id.
    path = tmp_path / "machine-id"
    path.write_text(MACHINE_ID + "\n")
    expected = hashlib.sha256(b"leitstand:" + MACHINE_ID.encode()).hexdigest()[:32]
    assert agent_id_from_machine_id(path) == expected
    assert load_or_create_agent_id(tmp_path / "state", machine_id_path=path) == expected
    assert not (tmp_path / "state").exists()  # derived, nothing stored


@pytest.mark.parametrize("content", ["", "uninitialized\n", MACHINE_ID.upper(), MACHINE_ID[:-1]])
def test_no_usable_machine_id_gives_a_stored_random_id(tmp_path: Path, content: str) -> None:
    path = tmp_path / "machine-id"
    path.write_text(content)
    assert agent_id_from_machine_id(path) is None
    first = load_or_create_agent_id(tmp_path / "state", machine_id_path=path)
    assert len(first) == 32 and int(first, 16) >= 0
    assert load_or_create_agent_id(tmp_path / "state", machine_id_path=path) == first
