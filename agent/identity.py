"""Who this agent is: a stable agent id, its collector token and its enrollment record.

The agent id is ``sha256("leitstand:" + /etc/machine-id)``, first 32 hex digits:
stable across reinstalls of the agent and across a wiped state directory, and
not the machine-id itself (systemd asks that the raw id not leave the host).
Hosts without a usable machine-id get a uuid4 persisted in the state directory.

Secrets and records are written atomically (temp file in the same directory,
fsync, ``os.replace``) with mode 0600, so a crash never leaves half a token and
the token is never readable by other users, not even for a moment.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import msgspec

__all__ = [
    "MACHINE_ID_PATH",
    "Enrollment",
    "NotEnrolledError",
    "agent_id_from_machine_id",
    "load_or_create_agent_id",
    "read_enrollment",
    "read_token",
    "write_enrollment",
    "write_private_file",
    "write_token",
]

log = logging.getLogger("leitstand.agent")

MACHINE_ID_PATH = Path("/etc/machine-id")
AGENT_ID_FILE = "agent-id"
ENROLLMENT_FILE = "enrollment.json"

_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII, no spaces: safe in a header


class NotEnrolledError(Exception):
    """There is no usable agent token: the agent has to be enrolled first."""


@dataclass(frozen=True)
class Enrollment:
    """What ``leitstand-agent enroll`` learned, so ``run`` needs no collector URL in the config."""

    collector_url: str
    agent_id: str
    ca_bundle: str | None = None
    enrolled_at: float = 0.0


def _sha256_hex(data: bytes) -> str:
    """SHA-256 without loading OpenSSL's libcrypto (about 3.5 MB of RSS for one hash).

    CPython's own ``random`` takes its SHA-512 the same way: the built-in module
    first (``_sha2`` from 3.12, ``_sha256`` before), hashlib where the build has none.
    """
    try:
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def agent_id_from_machine_id(machine_id_path: Path = MACHINE_ID_PATH) -> str | None:
    """The id derived from the machine-id, or None when there is no valid one."""
    try:
        machine_id = machine_id_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    # Images not yet booted carry "uninitialized" or an empty file; hashing that would
    # give every clone the same id.
    if not re.fullmatch(r"[0-9a-f]{32}", machine_id):
        return None
    return _sha256_hex(b"leitstand:" + machine_id.encode("ascii"))[:32]


def load_or_create_agent_id(
    state_dir: Path,
    *,
    machine_id_path: Path = MACHINE_ID_PATH,
    persist: bool = True,
) -> str:
    """The stable agent id; with ``persist=False`` a new uuid is not written (``once``)."""
    derived = agent_id_from_machine_id(machine_id_path)
    if derived is not None:
        return derived
    id_file = state_dir / AGENT_ID_FILE
    try:
        stored = id_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = ""
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s (%s); making a new agent id", id_file, exc)
        stored = ""
    if re.fullmatch(r"[0-9a-f]{32}", stored):
        return stored
    new_id = os.urandom(16).hex()  # random like uuid4, without importing uuid
    if persist:
        state_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        write_private_file(id_file, (new_id + "\n").encode("ascii"))
        log.info("no machine-id; generated agent id %s and stored it in %s", new_id, id_file)
    return new_id


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only."""
    # Created with mode 0600 before anything is written to it. O_EXCL on a name
    # unique to this process instead of tempfile, whose imports cost the agent ~1 MB RSS.
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _match_directory_owner(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _match_directory_owner(path: Path) -> None:
    # `sudo leitstand-agent enroll` writes into a state directory that belongs to the
    # service user; a root-owned 0600 token there would lock the service out of it.
    if sys.platform == "win32" or os.geteuid() != 0:  # Windows: the directory's ACL is inherited
        return
    owner = path.parent.stat()
    if owner.st_uid != 0:
        os.chown(path, owner.st_uid, owner.st_gid)


def _fsync_directory(directory: Path) -> None:
    # Without it the rename itself may be lost on power failure.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_token(path: Path, token: str) -> None:
    """Store the agent token (mode 0600, atomic); creates the directory if needed."""
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("token must be 1-4096 printable ASCII characters without spaces")
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    write_private_file(path, (token + "\n").encode("ascii"))


def read_token(path: Path) -> str:
    """The stored agent token; raises NotEnrolledError when there is none."""
    try:
        info = path.stat()
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotEnrolledError(f"no agent token at {path}: run `leitstand-agent enroll` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotEnrolledError(f"cannot read the agent token at {path}: {exc}") from None
    if not _TOKEN_RE.fullmatch(token):
        raise NotEnrolledError(f"the agent token at {path} is empty or malformed: enroll again")
    # Windows reports 0o666 for every writable file: access is the ACL's, not the mode's.
    if sys.platform != "win32" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("agent token %s is accessible to other users (mode %o); chmod 600 it", path, info.st_mode & 0o777)
    return token


def write_enrollment(state_dir: Path, enrollment: Enrollment) -> Path:
    """Store the enrollment record in the state directory; returns its path."""
    state_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    path = state_dir / ENROLLMENT_FILE
    write_private_file(path, msgspec.json.encode(enrollment) + b"\n")
    return path


def read_enrollment(state_dir: Path) -> Enrollment | None:
    """The enrollment record, or None when the agent was never enrolled (or it is unreadable)."""
    path = state_dir / ENROLLMENT_FILE
    try:
        return msgspec.json.decode(path.read_bytes(), type=Enrollment)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("ignoring unreadable enrollment record %s: %s", path, exc)
        return None
