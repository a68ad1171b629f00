"""Typed errors of the collector library. Only the CLI and the HTTP layer turn
them into messages, exit codes and status codes."""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CollectorError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "OverloadedError",
    "PayloadTooLargeError",
    "RequestTimeoutError",
    "StorageError",
    "ValidationError",
]


class CollectorError(Exception):
    """Base of every error the collector library raises on purpose."""

    status = 500

    def __init__(self, message: str, detail: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = list(detail or [])


class ValidationError(CollectorError):
    status = 400


class AuthError(CollectorError):
    """Missing, unknown or revoked token."""

    status = 401


class ForbiddenError(CollectorError):
    """A valid token used outside its role, tenant or agent."""

    status = 403


class NotFoundError(CollectorError):
    status = 404


class ConflictError(CollectorError):
    status = 409


class PayloadTooLargeError(CollectorError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"body too large (limit {limit} bytes, also after gzip)")


class ClientDisconnectedError(CollectorError):
    """The client went away before its whole body arrived; nothing was stored.
    No one reads the answer: it exists so the access log names what happened,
    instead of a 500 with a traceback per dropped connection."""

    status = 400

    def __init__(self) -> None:
        super().__init__("client disconnected before the whole body arrived, nothing stored")


class RequestTimeoutError(CollectorError):
    """The client sent its body too slowly; nothing was stored, it may send again."""

    status = 408

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"request body not received within {limit_s:g} s (server.body_timeout_s)")


class OverloadedError(CollectorError):
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageError(CollectorError):
    """The database refused a write (disk full, I/O error). Nothing was stored."""

    status = 503


class ConfigError(CollectorError):
    """A config file that cannot be used; the message names file, key and line."""

    status = 500
