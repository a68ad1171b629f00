"""Textfile inputs: ``*.prom`` files in a directory, as node_exporter's textfile collector reads them.

Cron jobs and backup scripts drop facts there (last successful backup, replication lag)
that the collector's readiness checks need. The format is the Prometheus text exposition
format 0.0.4. The parser is small and strict on purpose: prometheus_client would cost
the agent several MiB of RSS, and a file that node_exporter would reject should be
rejected here too, with the file and line named, instead of half-read.

Rules that go beyond the format, and why:

- A malformed file contributes no samples at all: half a file could report a backup
  timestamp without the status next to it. Other files are read as usual.
- NaN and ±Inf cannot travel in JSON, so such samples are skipped and noted per file.
- Timestamps are accepted and dropped: a report carries one timestamp, its ``ts``.
- A sample that repeats one already read (same name and labels) is an error inside a
  file and dropped with a note across files, so the collector never sees two values.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Final, NamedTuple

from agent import wire

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SAMPLES",
    "ParseResult",
    "SampleLimitError",
    "TextfileFormatError",
    "parse_exposition",
    "read_textfiles",
]

MAX_FILE_BYTES: Final = 1 << 20
# The wire format's cap on Report.textfile; more would get the whole batch rejected.
MAX_SAMPLES: Final = 10_000
_MAX_ERRORS: Final = 1000  # wire cap on Report.textfile_errors
_MAX_ERROR_LEN: Final = 256  # wire cap on one error string
_MAX_NAME_LEN: Final = 200
_MAX_LABEL_NAME_LEN: Final = 100
_MAX_LABEL_VALUE_LEN: Final = 1024

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS = re.compile(r"[ \t]*")
_TOKEN = re.compile(r"[^ \t]+")
# Single-character alternatives keep a missing closing quote from backtracking exponentially.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.|$)")
# What Go's strconv.ParseFloat accepts, minus hex floats and digit separators.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)
_TIMESTAMP = re.compile(r"-?[0-9]+")
_TYPES: Final = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_SUFFIXES: Final = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


class TextfileFormatError(ValueError):
    """A file that does not follow the exposition format; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class SampleLimitError(TextfileFormatError):
    """More samples than the caller's budget; ``line`` is where the budget ran out."""


class ParseResult(NamedTuple):
    samples: list[wire.TextfileSample]
    # (line, metric name) of each sample skipped for a NaN or infinite value.
    non_finite: list[tuple[int, str]]


class _Fail(Exception):
    """Raised inside one line; the caller adds the line number."""


def _unescape(raw: str, *, quote: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        if char == "\\":
            return "\\"
        if char == "n":
            return "\n"
        if char == '"' and quote:
            return '"'
        shown = "end of line" if char == "" else repr(char)
        raise _Fail(f"invalid escape sequence: backslash followed by {shown}")

    return _ESCAPE.sub(replace, raw) if "\\" in raw else raw


def _parse_value(token: str) -> float:
    if _DECIMAL.fullmatch(token):
        value = float(token)
        if math.isinf(value):
            raise _Fail(f"value {token!r} is out of range")
        return value
    if _SPECIAL.fullmatch(token):
        return float(token)
    raise _Fail(f"invalid value {token!r}")


def _skip(line: str, pos: int) -> int:
    match = _BLANKS.match(line, pos)
    assert match is not None  # [ \t]* matches the empty string everywhere
    return match.end()


def _unexpected(line: str, pos: int, expected: str) -> _Fail:
    if pos >= len(line):
        return _Fail(f"expected {expected}, found end of line")
    return _Fail(f"expected {expected}, found {line[pos]!r} at column {pos + 1}")


def _parse_labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse ``{name="value",...}`` starting just after the ``{``."""
    labels: dict[str, str] = {}
    while True:
        pos = _skip(line, pos)
        if line.startswith("}", pos):
            return labels, pos + 1
        match = _LABEL_NAME.match(line, pos)
        if match is None:
            raise _unexpected(line, pos, "a label name or '}'")
        name = match.group()
        if name == "__name__":
            raise _Fail("label name '__name__' is reserved")
        if len(name) > _MAX_LABEL_NAME_LEN:
            raise _Fail(f"label name {name[:40]!r}... longer than {_MAX_LABEL_NAME_LEN} characters")
        if name in labels:
            raise _Fail(f"duplicate label {name!r}")
        pos = _skip(line, match.end())
        if not line.startswith("=", pos):
            raise _unexpected(line, pos, f"'=' after label {name!r}")
        pos = _skip(line, pos + 1)
        quoted = _QUOTED.match(line, pos)
        if quoted is None:
            if line.startswith('"', pos):
                raise _Fail(f"unterminated value of label {name!r}")
            raise _unexpected(line, pos, f"a quoted value for label {name!r}")
        value = _unescape(quoted.group(1), quote=True)
        if len(value) > _MAX_LABEL_VALUE_LEN:
            raise _Fail(f"value of label {name!r} longer than {_MAX_LABEL_VALUE_LEN} characters")
        labels[name] = value
        pos = _skip(line, quoted.end())
        if line.startswith(",", pos):
            pos += 1
        elif not line.startswith("}", pos):
            raise _unexpected(line, pos, "',' or '}' after a label value")


def _parse_sample(line: str) -> tuple[str, dict[str, str], float]:
    pos = _skip(line, 0)
    match = _METRIC_NAME.match(line, pos)
    if match is None:
        raise _unexpected(line, pos, "a metric name")
    name = match.group()
    if len(name) > _MAX_NAME_LEN:
        raise _Fail(f"metric name {name[:40]!r}... longer than {_MAX_NAME_LEN} characters")
    pos = _skip(line, match.end())
    labels: dict[str, str] = {}
    if line.startswith("{", pos):
        labels, pos = _parse_labels(line, pos + 1)
        pos = _skip(line, pos)
    token = _TOKEN.match(line, pos)
    if token is None:
        raise _unexpected(line, pos, f"a value for {name!r}")
    value = _parse_value(token.group())
    pos = _skip(line, token.end())
    stamp = _TOKEN.match(line, pos)
    if stamp is not None:
        if not _TIMESTAMP.fullmatch(stamp.group()):
            raise _Fail(f"invalid timestamp {stamp.group()!r} (integer milliseconds expected)")
        pos = _skip(line, stamp.end())
        if pos < len(line):
            raise _unexpected(line, pos, "end of line after the timestamp")
    return name, labels, value


class _Families:
    """HELP/TYPE bookkeeping: which family a sample belongs to, and ordering rules."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.helped: set[str] = set()
        self.sampled: set[str] = set()

    def comment(self, line: str) -> None:
        pos = _skip(line, _skip(line, 0) + 1)  # past the '#'
        keyword = _TOKEN.match(line, pos)
        if keyword is None or keyword.group() not in ("HELP", "TYPE"):
            return  # an ordinary comment
        kind = keyword.group()
        pos = _skip(line, keyword.end())
        match = _METRIC_NAME.match(line, pos)
        if match is None or (match.end() < len(line) and line[match.end()] not in " \t"):
            raise _Fail(f"invalid metric name in {kind} line")
        name = match.group()
        rest = line[_skip(line, match.end()) :]
        if kind == "HELP":
            if name in self.helped:
                raise _Fail(f"second HELP line for {name!r}")
            self.helped.add(name)
            _unescape(rest, quote=False)  # validated only: HELP text does not travel
            return
        if name in self.types:
            raise _Fail(f"second TYPE line for {name!r}")
        if name in self.sampled:
            raise _Fail(f"TYPE line for {name!r} after its samples")
        mtype = rest.rstrip(" \t")
        if mtype not in _TYPES:
            raise _Fail(f"unknown metric type {mtype!r} for {name!r} (expected one of {sorted(_TYPES)})")
        self.types[name] = mtype

    def sample(self, name: str, labels: dict[str, str]) -> None:
        family, suffix = name, ""
        for candidate in ("_bucket", "_sum", "_count"):
            base = name.removesuffix(candidate)
            if base != name and candidate in _SUFFIXES.get(self.types.get(base, ""), ()):
                family, suffix = base, candidate
                break
        self.sampled.add(family)
        mtype = self.types.get(family)
        if mtype == "histogram" and suffix == "_bucket":
            self._bound(labels, "le", name)
        elif mtype == "summary" and not suffix:
            self._bound(labels, "quantile", name)

    @staticmethod
    def _bound(labels: dict[str, str], label: str, name: str) -> None:
        if label not in labels:
            raise _Fail(f"{name!r} needs a {label!r} label")
        try:
            _parse_value(labels[label])
        except _Fail:
            raise _Fail(f"{label!r} label of {name!r} is not a number: {labels[label]!r}") from None


def parse_exposition(text: str, *, max_samples: int = MAX_SAMPLES) -> ParseResult:
    """Parse one file's text; raises TextfileFormatError naming the first bad line."""
    samples: list[wire.TextfileSample] = []
    non_finite: list[tuple[int, str]] = []
    families = _Families()
    seen: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
    # Split on "\n" only: str.splitlines() would also split on characters that are
    # legal inside label values (\r, \x1c, \u2028, ...).
    for number, line in enumerate(text.split("\n"), start=1):
        try:
            stripped = line.lstrip(" \t")
            if not stripped:
                continue
            if stripped.startswith("#"):
                families.comment(line)
                continue
            name, labels, value = _parse_sample(line)
            families.sample(name, labels)
            key = (name, frozenset(labels.items()))
            if key in seen:
                raise _Fail(f"duplicate sample {name!r} (first on line {seen[key]})")
            seen[key] = number
            if not math.isfinite(value):
                non_finite.append((number, name))
                continue
            if len(samples) >= max_samples:
                raise SampleLimitError(number, f"more than {max_samples} samples")
            samples.append(wire.TextfileSample(name=name, value=value, labels=labels))
        except _Fail as exc:
            message = str(exc)
            if line.endswith("\r"):
                # Files written on Windows: name the cause, not just the stray character.
                message += " (the line ends in a carriage return; CRLF line endings are not allowed)"
            raise TextfileFormatError(number, message) from None
    return ParseResult(samples, non_finite)


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_ERROR_LEN else message[: _MAX_ERROR_LEN - 1] + "…"


def _read_text(path: Path, max_file_bytes: int) -> str:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        # Read one byte more than allowed: the file may grow between fstat and read.
        data = handle.read(max_file_bytes + 1)
    if size > max_file_bytes or len(data) > max_file_bytes:
        raise _Fail(f"{max(size, len(data))} bytes, more than the limit of {max_file_bytes}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TextfileFormatError(line, "not valid UTF-8") from None


def read_textfiles(
    directory: str | os.PathLike[str],
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_samples: int = MAX_SAMPLES,
) -> tuple[list[wire.TextfileSample], list[str]]:
    """Samples of every ``*.prom`` file in ``directory`` and one error string per problem.

    Each error names the file (and the line where there is one); a file with an error
    contributes nothing, except for notes about skipped samples.
    """
    root = Path(directory)
    try:
        paths = sorted(p for p in root.iterdir() if p.name.endswith(".prom"))
    except OSError as exc:
        return [], [_clip(f"textfile directory {root}: {exc.strerror or exc}")]

    samples: list[wire.TextfileSample] = []
    errors: list[str] = []
    origin: dict[tuple[str, frozenset[tuple[str, str]]], str] = {}
    for path in paths:
        name = path.name
        try:
            if not path.is_file():
                continue  # a directory or dangling link named *.prom
            text = _read_text(path, max_file_bytes)
            result = parse_exposition(text, max_samples=max_samples - len(samples))
        except SampleLimitError as exc:
            errors.append(
                _clip(f"{name}: line {exc.line}: limit of {max_samples} samples over all files reached; file skipped")
            )
            continue
        except TextfileFormatError as exc:
            errors.append(_clip(f"{name}: {exc}; file skipped"))
            continue
        except _Fail as exc:
            errors.append(_clip(f"{name}: {exc}; file skipped"))
            continue
        except OSError as exc:
            errors.append(_clip(f"{name}: cannot read: {exc.strerror or exc}; file skipped"))
            continue

        duplicates: list[tuple[str, str]] = []
        for sample in result.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            if key in origin:
                duplicates.append((sample.name, origin[key]))
                continue
            origin[key] = name
            samples.append(sample)
        if duplicates:
            metric, other = duplicates[0]
            errors.append(
                _clip(
                    f"{name}: {len(duplicates)} sample(s) repeat ones from other files and were dropped,"
                    f" first {metric} from {other}"
                )
            )
        if result.non_finite:
            line, metric = result.non_finite[0]
            errors.append(
                _clip(
                    f"{name}: {len(result.non_finite)} sample(s) with NaN or infinite values skipped "
                    f"(JSON cannot carry them), first {metric} on line {line}"
                )
            )
    if len(errors) > _MAX_ERRORS:
        dropped = len(errors) - _MAX_ERRORS + 1
        errors[_MAX_ERRORS - 1 :] = [f"{dropped} more textfile errors not shown"]
    return samples, errors
