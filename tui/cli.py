"""``leitstand-tui --collector URL [--token T] [--lang de|en]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import ConfigError, resolve
from .i18n import LANGS

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leitstand-tui",
        description="Leitstand terminal UI: the fleet, devices, metering, readiness and alerts of a collector.",
    )
    parser.add_argument("--collector", metavar="URL", help="collector base URL (default: $LEITSTAND_COLLECTOR, "
                        "the config file, else http://127.0.0.1:8470)")  # fmt: skip
    parser.add_argument("--token", help="API token (default: $LEITSTAND_TOKEN, the config file)")
    parser.add_argument("--token-file", metavar="FILE", help="read the API token from FILE")
    parser.add_argument("--lang", choices=LANGS, help="language (default: from the locale)")
    parser.add_argument("--zone", metavar="ZONE", help="time zone of the times shown, e.g. UTC (default: the "
                        "config file, else Europe/Berlin)")  # fmt: skip
    parser.add_argument("--refresh", type=float, metavar="SECONDS", help="live refresh interval (0: off)")
    args = parser.parse_args(argv)
    try:
        settings = resolve(
            collector=args.collector, token=args.token, token_file=args.token_file, lang=args.lang, zone=args.zone
        )
    except ConfigError as exc:
        print(f"leitstand-tui: {exc}", file=sys.stderr)
        return 2
    # Textual is imported only when the UI really starts (fast --help, no terminal needed)
    from .app import make_app
    from .source import CollectorSource

    source = CollectorSource(settings.collector, settings.token)
    app = make_app(
        source,
        lang=settings.lang,
        zone=settings.zone,
        refresh_s=settings.refresh_s if args.refresh is None else args.refresh,
    )
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
