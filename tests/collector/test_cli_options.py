"""--db and --config given before or after a nested action both count."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["readiness", "--config", "c.toml", "--db", "d.db", "record-test", "--app", "emw", "--result", "passed"],
        ["readiness", "record-test", "--app", "emw", "--result", "passed", "--config", "c.toml", "--db", "d.db"],
    ],
)
def test_options_before_or_after_a_nested_action(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.config == Path("c.toml")
    assert args.db == "d.db"


def test_options_left_out_stay_unset() -> None:
    args = build_parser().parse_args(["tenant", "list"])
    assert getattr(args, "db", None) is None and getattr(args, "config", None) is None
