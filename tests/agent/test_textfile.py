"""Textfile inputs: the strict exposition-format parser and the directory reader."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import wire
from agent.textfile import (
    MAX_FILE_BYTES,
    TextfileFormatError,
    parse_exposition,
    read_textfiles,
)


def sample(name: str, value: float, **labels: str) -> wire.TextfileSample:
    return wire.TextfileSample(name=name, value=value, labels=labels)


# --- the parser ----------------------------------------------------------------------


def test_valid_file_with_help_type_and_comments() -> None:
    text = (
        "# Written by backup.sh at 02:14\n"
        "# HELP backup_last_success_timestamp_seconds Last successful backup (Unix time).\n"
        "# TYPE backup_last_success_timestamp_seconds gauge\n"
        'backup_last_success_timestamp_seconds{job="emw"} 1763800000\n'
        'backup_last_success_timestamp_seconds{job="kita",site="rathaus"} 1.7638e9\n'
        "\n"
        "   # an indented comment\n"
        "# TYPE replication_lag_seconds gauge\n"
        "replication_lag_seconds 4.5\n"
        "up_total -3\n"
    )

    result = parse_exposition(text)

    assert result.samples == [
        sample("backup_last_success_timestamp_seconds", 1763800000.0, job="emw"),
        sample("backup_last_success_timestamp_seconds", 1.7638e9, job="kita", site="rathaus"),
        sample("replication_lag_seconds", 4.5),
        sample("up_total", -3.0),
    ]
    assert result.non_finite == []


def test_label_value_escapes() -> None:
    text = r'files{path="C:\\Daten\\EMW",quote="sagt \"Hallo\"",lines="eins\nzwei",plain="a,b=c}"} 1'

    [parsed] = parse_exposition(text).samples

    assert parsed.labels == {
        "path": "C:\\Daten\\EMW",
        "quote": 'sagt "Hallo"',
        "lines": "eins\nzwei",
        "plain": "a,b=c}",
    }


def test_blanks_trailing_comma_and_empty_braces_are_allowed() -> None:
    text = 'a { x = "1" ,\ty="2", } \t 7\nb{} 8\nc{x="1",} 9'

    assert parse_exposition(text).samples == [sample("a", 7.0, x="1", y="2"), sample("b", 8.0), sample("c", 9.0, x="1")]


def test_timestamps_are_accepted_and_dropped() -> None:
    text = 'a 1 1763800000000\nb 2 -5\nc{x="y"} 3\t1763800000000  \n'

    assert parse_exposition(text).samples == [sample("a", 1.0), sample("b", 2.0), sample("c", 3.0, x="y")]


@pytest.mark.parametrize(
    ("token", "value"),
    [("0", 0.0), ("-0.5", -0.5), ("+2", 2.0), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("1.5E-3", 0.0015)],
)
def test_number_forms(token: str, value: float) -> None:
    assert parse_exposition(f"m {token}").samples == [sample("m", value)]


def test_non_finite_values_are_skipped_and_reported_with_their_lines() -> None:
    text = 'ok 1\nbad NaN\nup{x="1"} +Inf\ndown -Inf\nalso_ok 2\nweird inf\n'

    result = parse_exposition(text)

    assert result.samples == [sample("ok", 1.0), sample("also_ok", 2.0)]
    assert result.non_finite == [(2, "bad"), (3, "up"), (4, "down"), (6, "weird")]


def test_histogram_and_summary_families() -> None:
    text = (
        "# TYPE req_seconds histogram\n"
        'req_seconds_bucket{le="0.5"} 3\n'
        'req_seconds_bucket{le="+Inf"} 4\n'
        "req_seconds_sum 1.5\n"
        "req_seconds_count 4\n"
        "# TYPE rpc summary\n"
        'rpc{quantile="0.99"} 0.2\n'
        "rpc_sum 10\n"
        "rpc_count 50\n"
    )

    result = parse_exposition(text)

    assert [s.name for s in result.samples] == [
        "req_seconds_bucket",
        "req_seconds_bucket",
        "req_seconds_sum",
        "req_seconds_count",
        "rpc",
        "rpc_sum",
        "rpc_count",
    ]
    assert result.samples[1].labels == {"le": "+Inf"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('m{a="b"} ', 1, "expected a value for 'm', found end of line"),
        ('ok 1\nm{a="b} 1', 2, "unterminated value of label 'a'"),
        (r'm{a="\x"} 1', 1, "invalid escape sequence: backslash followed by 'x'"),
        ('m{a="b",a="c"} 1', 1, "duplicate label 'a'"),
        ('m{a="b" c="d"} 1', 1, "expected ',' or '}' after a label value"),
        ("m{a=b} 1", 1, "expected a quoted value for label 'a'"),
        ("m{,} 1", 1, "expected a label name or '}'"),
        ('m{__name__="x"} 1', 1, "label name '__name__' is reserved"),
        ("m 1 2 3", 1, "expected end of line after the timestamp"),
        ("m 1 1.5", 1, "invalid timestamp '1.5'"),
        ("m abc", 1, "invalid value 'abc'"),
        ("m 0x1p3", 1, "invalid value '0x1p3'"),
        ("m 1_000", 1, "invalid value '1_000'"),
        ("m 1e999", 1, "value '1e999' is out of range"),
        ("9m 1", 1, "expected a metric name, found '9'"),
        ("m-x 1", 1, "invalid value '-x'"),
        ("ok 1\nok 2", 2, "duplicate sample 'ok' (first on line 1)"),
        ('a{x="1",y="2"} 1\na{y="2",x="1"} 2', 2, "duplicate sample 'a' (first on line 1)"),
        ("# TYPE m gauge\n# TYPE m counter", 2, "second TYPE line for 'm'"),
        ("# HELP m one\n# HELP m two", 2, "second HELP line for 'm'"),
        ("m 1\n# TYPE m gauge", 2, "TYPE line for 'm' after its samples"),
        ("# TYPE m gauges", 1, "unknown metric type 'gauges' for 'm'"),
        ("# TYPE m", 1, "unknown metric type '' for 'm'"),
        ("# TYPE 1m gauge", 1, "invalid metric name in TYPE line"),
        ("# HELP", 1, "invalid metric name in HELP line"),
        (r"# HELP m broken \q escape", 1, "invalid escape sequence: backslash followed by 'q'"),
        ("# HELP m ends in \\", 1, "invalid escape sequence: backslash followed by end of line"),
        ("# TYPE h histogram\nh_bucket 1", 2, "'h_bucket' needs a 'le' label"),
        ('# TYPE s summary\ns{quantile="hoch"} 1', 2, "'quantile' label of 's' is not a number: 'hoch'"),
        ("m 1\r\n", 1, "invalid value '1\\r' (the line ends in a carriage return; CRLF line endings"),
        ('m{a="' + "x" * 1025 + '"} 1', 1, "value of label 'a' longer than 1024 characters"),
        ("m" * 201 + " 1", 1, "longer than 200 characters"),
    ],
)
def test_malformed_lines_name_line_and_problem(text: str, line: int, message: str) -> None:
    with pytest.raises(TextfileFormatError) as caught:
        parse_exposition(text)

    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_sample_limit_is_an_error_not_a_silent_cut() -> None:
    with pytest.raises(TextfileFormatError, match=r"line 3: more than 2 samples"):
        parse_exposition("a 1\nb 2\nc 3\n", max_samples=2)


def test_comments_that_are_not_help_or_type_may_say_anything() -> None:
    text = '# HELPER text {{"\\q\n#\n#TYPO m gauge\nm 1'

    assert parse_exposition(text).samples == [sample("m", 1.0)]


# --- property-based: generated valid files round-trip -------------------------------

metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,30}", fullmatch=True)
# Names starting with "__" are reserved for Prometheus itself; the oracle rejects them.
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True).filter(lambda n: not n.startswith("__"))
label_values = st.text(max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False)
blanks = st.sampled_from([" ", "\t", "  ", " \t "])
timestamps = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


@st.composite
def exposition(draw: st.DrawFn, canonical: bool = False) -> tuple[str, list[wire.TextfileSample]]:
    """A valid file and the samples it must parse to, in order."""
    gap = (lambda: " ") if canonical else (lambda: draw(blanks))
    families = draw(
        st.dictionaries(
            metric_names,
            st.lists(
                st.dictionaries(label_names, label_values, max_size=4),
                min_size=1,
                max_size=4,
                unique_by=lambda labels: frozenset(labels.items()),
            ),
            max_size=6,
        )
    )
    lines: list[str] = []
    expected: list[wire.TextfileSample] = []
    for name, label_sets in families.items():
        if draw(st.booleans()):
            lines.append(f"# HELP {name} {escape_help(draw(st.text(max_size=30)))}")
        if draw(st.booleans()):
            # prometheus_client renames counter samples to *_total, so the oracle gets no counters.
            types = ["gauge", "untyped"] if canonical else ["counter", "gauge", "untyped"]
            lines.append(f"# TYPE {name} {draw(st.sampled_from(types))}")
        for labels in label_sets:
            value = draw(finite)
            rendered = name
            if labels or draw(st.booleans()):
                equals = "=" if canonical else gap() + "=" + gap()
                pairs = [f'{k}{equals}"{escape_label(v)}"' for k, v in labels.items()]
                opening = "{" if canonical else draw(st.sampled_from(["", " "])) + "{"
                rendered += opening + ",".join(pairs) + "}"
            rendered += gap() + repr(value)
            stamp = None if canonical else draw(timestamps)
            if stamp is not None:
                rendered += gap() + str(stamp)
            lines.append(rendered)
            expected.append(wire.TextfileSample(name=name, value=value, labels=labels))
        if not canonical and draw(st.booleans()):
            lines.append("# " + draw(st.text(max_size=20)).replace("\n", " "))
    return "\n".join(lines) + "\n", expected


@given(exposition())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_generated_files_round_trip(case: tuple[str, list[wire.TextfileSample]]) -> None:
    text, expected = case

    result = parse_exposition(text)

    assert result.samples == expected
    assert result.non_finite == []
    # and what was parsed survives the wire
    report = wire.Report(seq=1, ts=1763812345.0, interval_s=60, textfile=result.samples)
    batch = wire.Batch(agent=wire.AgentInfo(id="a", hostname="h"), reports=[report])
    assert wire.decode_batch(wire.encode(batch)).reports[0].textfile == expected


@given(exposition(canonical=True))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_generated_files_parse_like_prometheus_client_does(case: tuple[str, list[wire.TextfileSample]]) -> None:
    # An independent parser as oracle, so generator and parser cannot share a misreading.
    # (Tests may import prometheus_client; the agent itself must not.)
    from prometheus_client.parser import text_string_to_metric_families

    text, _ = case
    theirs = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]

    ours = [(s.name, s.labels, s.value) for s in parse_exposition(text).samples]

    assert sorted(ours, key=repr) == sorted(theirs, key=repr)


@given(st.text(max_size=200))
@settings(max_examples=500)
def test_arbitrary_text_either_parses_or_raises_the_format_error(text: str) -> None:
    try:
        result = parse_exposition(text)
    except TextfileFormatError as exc:
        assert exc.line >= 1
        assert str(exc).startswith(f"line {exc.line}: ")
    else:
        assert all(math.isfinite(s.value) for s in result.samples)


# --- the directory reader ------------------------------------------------------------


def test_malformed_file_next_to_a_good_one(tmp_path: Path) -> None:
    (tmp_path / "backup.prom").write_text('backup_ok{job="emw"} 1\nbackup_ok{job="kita"} 0\n')
    (tmp_path / "broken.prom").write_text('# TYPE lag gauge\nlag 1\nlag{db="x} 2\nlater 3\n')
    (tmp_path / "zz_after.prom").write_text("after_broken 5\n")

    samples, errors = read_textfiles(tmp_path)

    assert samples == [
        sample("backup_ok", 1.0, job="emw"),
        sample("backup_ok", 0.0, job="kita"),
        sample("after_broken", 5.0),
    ]
    assert errors == ["broken.prom: line 3: unterminated value of label 'db'; file skipped"]


def test_only_prom_files_are_read(tmp_path: Path) -> None:
    (tmp_path / "good.prom").write_text("good 1\n")
    (tmp_path / "README.txt").write_text("not metrics at all {{{\n")
    (tmp_path / "good.prom.tmp").write_text("half written {\n")  # the atomic-rename pattern
    (tmp_path / "dir.prom").mkdir()
    (tmp_path / "dangling.prom").symlink_to(tmp_path / "nowhere")

    assert read_textfiles(tmp_path) == ([sample("good", 1.0)], [])


def test_oversized_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    big = "# padding\n" * (MAX_FILE_BYTES // 10 + 1) + "big 1\n"
    (tmp_path / "big.prom").write_text(big)
    (tmp_path / "small.prom").write_text("small 1\n")

    samples, errors = read_textfiles(tmp_path)

    assert samples == [sample("small", 1.0)]
    assert errors == [f"big.prom: {len(big)} bytes, more than the limit of {MAX_FILE_BYTES}; file skipped"]


def test_sample_limit_over_all_files(tmp_path: Path) -> None:
    (tmp_path / "a.prom").write_text("a1 1\na2 2\n")
    (tmp_path / "b.prom").write_text("b1 1\nb2 2\n")
    (tmp_path / "c.prom").write_text("# only a comment\n")

    samples, errors = read_textfiles(tmp_path, max_samples=3)

    assert samples == [sample("a1", 1.0), sample("a2", 2.0)]
    assert errors == ["b.prom: line 2: limit of 3 samples over all files reached; file skipped"]


def test_nan_is_skipped_with_a_note_and_the_rest_kept(tmp_path: Path) -> None:
    (tmp_path / "lag.prom").write_text("lag_seconds 3\nlag_ratio NaN\nlag_max +Inf\n")

    samples, errors = read_textfiles(tmp_path)

    assert samples == [sample("lag_seconds", 3.0)]
    assert errors == [
        "lag.prom: 2 sample(s) with NaN or infinite values skipped (JSON cannot carry them), first lag_ratio on line 2"
    ]


def test_same_sample_in_two_files_is_kept_once(tmp_path: Path) -> None:
    (tmp_path / "a.prom").write_text('backup_ok{job="emw"} 1\n')
    (tmp_path / "b.prom").write_text('backup_ok{job="emw"} 0\nother 1\n')

    samples, errors = read_textfiles(tmp_path)

    assert samples == [sample("backup_ok", 1.0, job="emw"), sample("other", 1.0)]
    assert errors == ["b.prom: 1 sample(s) repeat ones from other files and were dropped, first backup_ok from a.prom"]


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "latin1.prom").write_bytes(b'ok 1\nort{name="M\xfcnster"} 1\n')

    samples, errors = read_textfiles(tmp_path)

    assert samples == []
    assert errors == ["latin1.prom: line 2: not valid UTF-8; file skipped"]


def test_missing_directory_is_one_error(tmp_path: Path) -> None:
    samples, errors = read_textfiles(tmp_path / "absent")

    assert samples == []
    assert len(errors) == 1
    assert errors[0].startswith(f"textfile directory {tmp_path / 'absent'}: ")


def test_unreadable_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.prom").write_text("x 1\n")
    (tmp_path / "visible.prom").write_text("y 1\n")
    real_open = Path.open

    def guarded_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        # chmod 0 does not stop root, so refuse the way the kernel would for anyone else.
        if self.name == "secret.prom":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)

    assert read_textfiles(tmp_path) == (
        [sample("y", 1.0)],
        ["secret.prom: cannot read: Permission denied; file skipped"],
    )


def test_errors_fit_the_wire_limits(tmp_path: Path) -> None:
    long_name = "a" * 240 + ".prom"  # sorts first, so its error is kept
    (tmp_path / long_name).write_text('m{a="' + "x" * 2000 + '"} 1\n')
    for i in range(1100):
        (tmp_path / f"bad{i:04d}.prom").write_text("oops\n")

    samples, errors = read_textfiles(tmp_path)
    report = wire.Report(seq=1, ts=1763812345.0, interval_s=60, textfile=samples, textfile_errors=errors)
    batch = wire.Batch(agent=wire.AgentInfo(id="a", hostname="h"), reports=[report])

    assert len(errors) == 1000
    assert errors[-1] == "102 more textfile errors not shown"
    assert all(len(e) <= 256 for e in errors)
    assert any(e.startswith("aaaa") and e.endswith("…") for e in errors)
    wire.decode_batch(wire.encode(batch))  # raises if an error string broke a wire bound
