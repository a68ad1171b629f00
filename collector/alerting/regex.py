"""Regular expressions of silence matchers, as Alertmanager has them.

A tenant writes these, so they must never run in more than linear time:
they are RE2 (``google-re2``: no backtracking, no backreferences, no
lookaround), fully anchored like Alertmanager's (``^(?:...)$``) and at most
``MAX_PATTERN_CHARS`` long. Python's ``re`` never sees them.
"""

from __future__ import annotations

import functools
import logging

import re2

from ..errors import ValidationError

__all__ = ["MAX_PATTERN_CHARS", "check", "fullmatch"]

log = logging.getLogger(__name__)

#: longest pattern a matcher may hold (Alertmanager has no limit; a tenant's input needs one)
MAX_PATTERN_CHARS = 1024

_OPTIONS = re2.Options()
# a refused pattern is the caller's error to report, not a line on the collector's stderr
_OPTIONS.log_errors = False


def _compile(pattern: str) -> re2._Regexp[str]:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValidationError(
            f"regular expression too long: {len(pattern)} characters (limit {MAX_PATTERN_CHARS})",
        )
    try:
        return re2.compile(f"^(?:{pattern})$", _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValidationError(
            f"invalid regular expression: {reason}",
            ["RE2 syntax as in Alertmanager: no backreferences (\\1), no lookaround ((?=, (?<=)"],
        ) from exc


def check(pattern: str) -> None:
    """Raise ValidationError (naming the reason) unless the pattern is a usable RE2."""
    _compile(pattern)


@functools.lru_cache(maxsize=4096)
def _cached(pattern: str) -> re2._Regexp[str] | None:
    try:
        return _compile(pattern)
    except ValidationError as exc:
        # silences stored before RE2 (Python-only syntax) must not break evaluation:
        # such a matcher matches nothing, and says so once per process
        log.warning("silence matcher ignored: %s", exc.message)
        return None


def fullmatch(pattern: str, value: str) -> bool:
    """Whether the whole value matches; an unusable pattern matches nothing."""
    compiled = _cached(pattern)
    if compiled is None:
        return False
    try:
        return compiled.search(value) is not None
    except UnicodeEncodeError:
        # RE2 reads UTF-8, which a lone surrogate is not: match the value as it would be shown
        return compiled.search(value.encode("utf-8", "replace").decode()) is not None
