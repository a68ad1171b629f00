"""How long a silence may last, checked the same way for the API and the CLI.

A silence longer than ``alerts.max_silence_s`` (30 days by default) is
refused: an alert muted for years is an alert nobody gets, and a year-5107
end is a typo. A start in the past means "now", as in Alertmanager. A tenant
holds at most ``alerts.max_silences_per_tenant`` silences that have not
ended: every evaluation checks every open alert against every active
silence, so their number must not be any tenant's to grow without bound.
"""

from __future__ import annotations

import math

from ..errors import ValidationError

__all__ = ["DEFAULT_MAX_SILENCES_PER_TENANT", "DEFAULT_MAX_SILENCE_S", "check_silence_count", "silence_window"]

DEFAULT_MAX_SILENCE_S = 30 * 86400.0
DEFAULT_MAX_SILENCES_PER_TENANT = 1000


def _span(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.4g} days"
    return f"{seconds / 3600:.4g} h" if seconds >= 3600 else f"{seconds:.0f} s"


def silence_window(starts_at: float | None, ends_at: float, now: float, max_s: float) -> tuple[float, float]:
    """(start, end) of a new silence; ValidationError naming the limit when out of range."""
    starts = now if starts_at is None or starts_at < now else starts_at
    if not (math.isfinite(starts) and math.isfinite(ends_at)):
        raise ValidationError("starts_at and ends_at must be finite")
    if ends_at <= now:
        raise ValidationError("'ends_at' lies in the past")
    if ends_at <= starts:
        raise ValidationError("'ends_at' must lie after 'starts_at'")
    limit = f"alerts.max_silence_s = {max_s:.0f} ({_span(max_s)})"
    if starts - now > max_s:
        raise ValidationError(f"'starts_at' lies more than {_span(max_s)} ahead (limit {limit})")
    if ends_at - starts > max_s:
        raise ValidationError(
            f"a silence of {ends_at - starts:.0f} s is longer than allowed (limit {limit})",
            ["end it earlier, and extend it when it runs out"],
        )
    return starts, ends_at


def check_silence_count(open_silences: int, max_count: int) -> None:
    """ValidationError naming the limit when a tenant already holds ``max_count`` silences."""
    if open_silences >= max_count:
        raise ValidationError(
            f"the tenant already has {open_silences} silences that have not ended "
            f"(limit alerts.max_silences_per_tenant = {max_count})",
            ["end silences that are no longer needed: DELETE /api/v1/silences/{id}"],
        )
