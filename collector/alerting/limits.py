"""How long a silence may last, checked the same way for the API and the CLI.

A silence longer than ``alerts.max_silence_s`` (30 days by default) is
refused: an alert muted for years is an alert nobody gets, and a year-5107
end is a typo. A start in the past means "now", as in Alertmanager.
"""

from __future__ import annotations

import math

from ..errors import ValidationError

__all__ = ["DEFAULT_MAX_SILENCE_S", "silence_window"]

DEFAULT_MAX_SILENCE_S = 30 * 86400.0


def _span(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days >= 1 else f"{seconds:g} s"


def silence_window(starts_at: float | None, ends_at: float, now: float, max_s: float) -> tuple[float, float]:
    """(start, end) of a new silence; ValidationError naming the limit when out of range."""
    starts = now if starts_at is None or starts_at < now else starts_at
    if not (math.isfinite(starts) and math.isfinite(ends_at)):
        raise ValidationError("starts_at and ends_at must be finite")
    if ends_at <= now:
        raise ValidationError("'ends_at' lies in the past")
    if ends_at <= starts:
        raise ValidationError("'ends_at' must lie after 'starts_at'")
    limit = f"alerts.max_silence_s = {max_s:g} ({_span(max_s)})"
    if starts - now > max_s:
        raise ValidationError(f"'starts_at' lies more than {_span(max_s)} ahead (limit {limit})")
    if ends_at - starts > max_s:
        raise ValidationError(
            f"silence of {_span(ends_at - starts)} is longer than allowed (limit {limit})",
            ["end it earlier, and extend it when it runs out"],
        )
    return starts, ends_at
