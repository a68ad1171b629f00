"""The soak's progress (python -m collector.sim --soak): a line per tenth of the reports
on a terminal's stderr, nothing with --quiet or without a terminal."""

from __future__ import annotations

import io

import pytest

from collector.sim.cli import soak_progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_line_per_tenth_of_the_reports() -> None:
    stream = Tty()
    sent = soak_progress(2400, quiet=False, stream=stream)
    for reports in (15, 240, 600, 615, 2400):  # batches land unevenly; a big one crosses several tenths
        sent(reports)
    lines = stream.getvalue().splitlines()
    assert [line.split(" reports acknowledged ")[1].split(")")[0] for line in lines] == [
        f"({p} %" for p in range(10, 101, 10)
    ]
    assert lines[0].startswith("[ 1/10] soak: 240/2,400 reports acknowledged (10 %)")
    assert lines[-1].startswith("[10/10] soak: 2,400/2,400 reports acknowledged (100 %)")


@pytest.mark.parametrize(("stream", "quiet"), [(Tty(), True), (io.StringIO(), False)])
def test_quiet_or_not_a_terminal_prints_nothing(stream: io.StringIO, quiet: bool) -> None:
    sent = soak_progress(100, quiet=quiet, stream=stream)
    sent(100)
    assert stream.getvalue() == ""
