"""Request helpers every API module shares."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from .errors import ValidationError

__all__ = ["query_param"]


def query_param(request: Request, name: str, kind: type, default: Any = None, choices: tuple[str, ...] = ()) -> Any:
    """A query parameter converted to `kind`; a 400 naming it when it is not one."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if "\x00" in raw:
        raise ValidationError(f"query parameter {name!r} contains a NUL character")
    if choices and raw not in choices:
        raise ValidationError(f"query parameter {name!r} must be one of: {', '.join(choices)}")
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ValidationError(f"query parameter {name!r} is not a valid {kind.__name__}: {raw!r}") from exc
    if kind is float and not (value == value and abs(value) != float("inf")):
        raise ValidationError(f"query parameter {name!r} is not a finite number")
    return value
