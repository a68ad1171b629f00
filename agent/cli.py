"""``leitstand-agent``: the agent's command line.

The only place that configures logging and turns the library's typed errors
into messages and exit codes (see ``EXIT_CODES_HELP``).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec

from agent import __version__, identity, wire
from agent.config import AgentConfig, ConfigError, load_config, validate_collector_url
from agent.runner import Runner, run_until_signalled
from agent.sender import AuthError, RejectedError, Sender, TransportError, enroll
from agent.spool import DeadLetter, Spool, SpoolError, encode_report

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_STATE",
    "EXIT_TRANSPORT",
    "build_parser",
    "main",
]

log = logging.getLogger("leitstand.agent")

EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: the sampler produced a report that breaks the wire format
EXIT_CONFIG = 2  # configuration or usage (also argparse's own code), not enrolled
EXIT_REJECTED = 3  # the collector refused: 401/403 or another 4xx
EXIT_TRANSPORT = 4  # the collector could not be reached
EXIT_STATE = 5  # the state directory or the spool cannot be used

# Dead letters `status` lists (newest first); `deadletter list` shows them all.
STATUS_DEAD_LETTERS = 5

EXIT_CODES_HELP = """\
exit codes:
  0  success (run: stopped by SIGTERM or SIGINT)
  2  configuration or usage error, or not enrolled yet
  3  the collector rejected the request (401/403 token, other 4xx)
  4  the collector could not be reached (network, TLS, timeout, 5xx)
  5  the state directory or the spool cannot be used
"""

DESCRIPTION = """\
Leitstand agent: samples this host's utilisation (CPU, memory, disks, network,
sessions, textfile metrics), keeps the reports in an on-disk spool and posts
them to the Leitstand collector.

Configuration: a TOML file (default $XDG_CONFIG_HOME/leitstand/agent.toml, as
root /etc/leitstand/agent.toml, on Windows %ProgramData%\\Leitstand\\agent.toml)
and LEITSTAND_AGENT_<KEY> environment variables, e.g.
LEITSTAND_AGENT_COLLECTOR_URL or LEITSTAND_AGENT_SAMPLE_INTERVAL=30.
"""

EXAMPLES = """\
examples:
  leitstand-agent once
      print one report as JSON; no network, nothing written
  leitstand-agent enroll --collector https://leitstand.kreis.example --enroll-token-file /root/enroll.token
      trade an enroll token for this agent's token and store it in the state directory
  leitstand-agent run
      sample every 15 s and send every 60 s until SIGTERM
  leitstand-agent --config /etc/leitstand/agent.toml status --json
      spool depth, last seq, dropped reports, dead letters and the last send result
  leitstand-agent deadletter list
      reports the collector could not take, with the collector's status and error
"""


class _UsageError(Exception):
    """A command cannot do what was asked (maps to EXIT_CONFIG)."""


class _SamplerWithInfo(Protocol):
    def agent_info(self, agent_id: str, version: str) -> wire.AgentInfo: ...

    def sample(self, interval_s: float) -> dict[str, object]: ...


def _make_sampler(config: AgentConfig) -> _SamplerWithInfo:
    # Imported here: psutil and the sampling modules are the heaviest imports, and
    # `enroll` and `status` need none of them.
    from agent.sampling.sampler import Sampler

    textfile_dir = str(config.textfile_dir) if config.textfile_dir is not None else None
    return Sampler(role=config.role, site=config.site, textfile_dir=textfile_dir)


def _start_snmp(config: AgentConfig, runner: Runner) -> Any:
    """Start the SNMP poller when devices are configured; pysnmp is imported only then."""
    if not config.devices:
        return None
    from agent.snmp.poller import Poller, SnmpSampler

    poller = Poller(config.devices, default_interval=config.sample_interval, concurrency=config.snmp_concurrency)
    poller.start()
    runner.sampler = SnmpSampler(runner.sampler, poller)
    log.info("polling %s SNMP device(s), at most %s at once", len(config.devices), config.snmp_concurrency)
    return poller


def _snmp_once(config: AgentConfig) -> list[Any]:
    if not config.devices:
        return []
    import asyncio

    from agent.snmp.poller import poll_once

    return asyncio.run(poll_once(config.devices, concurrency=config.snmp_concurrency))


def _agent_id(config: AgentConfig, *, persist: bool) -> str:
    if config.agent_id:
        return config.agent_id
    return identity.load_or_create_agent_id(config.state_dir, persist=persist)


def _collector(config: AgentConfig, enrollment: identity.Enrollment | None) -> tuple[str | None, str | None]:
    """Collector URL and CA bundle: the config wins over what `enroll` stored."""
    url = config.collector_url or (enrollment.collector_url if enrollment else None)
    ca: Path | str | None = config.ca_bundle or (enrollment.ca_bundle if enrollment else None)
    return url, (str(ca) if ca else None)


def _check_ca_bundle(ca_bundle: str | None, source: str) -> None:
    if ca_bundle is None:
        return
    import ssl  # only an https:// collector has a CA bundle; plain http never loads ssl

    try:
        ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"unusable CA bundle {ca_bundle}: {exc}", source=source, key="ca_bundle") from None


# -- commands -------------------------------------------------------------------


def _cmd_once(args: argparse.Namespace, config: AgentConfig) -> int:
    sampler = _make_sampler(config)
    info = sampler.agent_info(_agent_id(config, persist=False), __version__)
    fields = sampler.sample(config.sample_interval)
    fields["snmp"] = _snmp_once(config)
    # Validated like a spooled report; seq is left out because only the spool assigns one.
    report = msgspec.json.decode(encode_report(1, fields))
    del report["seq"]
    document = wire.encode({"agent": info, "report": report})
    sys.stdout.write(msgspec.json.format(document, indent=2).decode() + "\n")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, config: AgentConfig) -> int:
    source = str(config.source or "configuration")
    token = identity.read_token(config.token_path)  # first: a not-enrolled agent changes nothing
    agent_id = _agent_id(config, persist=True)
    enrollment = identity.read_enrollment(config.state_dir)
    url, ca_bundle = _collector(config, enrollment)
    if url is None:
        raise ConfigError("not set: put it in the config or run `leitstand-agent enroll`", key="collector_url")
    _check_ca_bundle(ca_bundle, source)
    if enrollment is not None and enrollment.agent_id != agent_id:
        log.warning("the token was issued to agent %s but this agent is %s: expect 403", enrollment.agent_id, agent_id)

    sampler = _make_sampler(config)
    info = sampler.agent_info(agent_id, __version__)
    config.state_dir.mkdir(parents=True, mode=0o700, exist_ok=True)  # token_file may live elsewhere
    with (
        Spool(config.spool_path, config.spool_max_bytes) as spool,
        Sender(url, token, ca_bundle=ca_bundle, timeout=config.request_timeout) as sender,
    ):
        runner = Runner(
            sampler,
            spool,
            sender,
            info,
            sample_interval=config.sample_interval,
            send_interval=config.send_interval,
            batch_max=config.batch_max,
        )
        log.info(
            "leitstand-agent %s: agent %s (%s, %s) -> %s; spool %s holds %s report(s)",
            __version__,
            agent_id,
            info.hostname,
            info.role,
            url,
            config.spool_path,
            spool.pending_count(),
        )
        dead = spool.dead_letter_count()
        if dead:
            log.warning(
                "%s report(s) in the dead-letter table: the collector could not take them "
                "(leitstand-agent deadletter list)",
                dead,
            )
        poller = _start_snmp(config, runner)
        try:
            run_until_signalled(runner)
        finally:
            if poller is not None:
                poller.stop()
        log.info("stopped; %s report(s) stay spooled", spool.pending_count())
    return EXIT_OK


def _read_enroll_token(args: argparse.Namespace) -> str:
    if args.enroll_token is not None:
        return str(args.enroll_token).strip()
    if args.enroll_token_file == "-":
        return sys.stdin.readline().strip()
    try:
        return Path(args.enroll_token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _UsageError(f"cannot read the enroll token: {exc}") from None


def _cmd_enroll(args: argparse.Namespace, config: AgentConfig) -> int:
    enroll_token = _read_enroll_token(args)
    if not enroll_token:
        raise _UsageError("the enroll token is empty")
    if config.token_path.exists() and not args.force:
        raise _UsageError(f"already enrolled (token in {config.token_path}); pass --force to enroll again")
    ca_bundle = args.ca_bundle or (str(config.ca_bundle) if config.ca_bundle else None)
    if ca_bundle is not None:
        ca_bundle = str(Path(ca_bundle).resolve())
    _check_ca_bundle(ca_bundle, "--ca-bundle")
    agent_id = _agent_id(config, persist=True)
    hostname = args.hostname or socket.gethostname()

    token = enroll(args.collector, enroll_token, agent_id, hostname, ca_bundle, timeout=config.request_timeout)
    identity.write_token(config.token_path, token)
    record = identity.Enrollment(
        collector_url=args.collector, agent_id=agent_id, ca_bundle=ca_bundle, enrolled_at=time.time()
    )
    record_path = identity.write_enrollment(config.state_dir, record)
    print(f"enrolled agent {agent_id} ({hostname}) with {args.collector}")
    print(f"agent token stored in {config.token_path}")
    print(f"collector URL stored in {record_path}")
    if config.collector_url and config.collector_url != args.collector:
        print(f"note: the config's collector_url {config.collector_url} takes precedence when running")
    return EXIT_OK


def _status(config: AgentConfig) -> dict[str, Any]:
    enrollment = identity.read_enrollment(config.state_dir)
    url, _ = _collector(config, enrollment)
    status: dict[str, Any] = {
        "agent_id": _agent_id(config, persist=False),
        "collector_url": url,
        "token_file": str(config.token_path),
        "enrolled": config.token_path.exists(),
        "spool": str(config.spool_path),
        "spool_max_bytes": config.spool_max_bytes,
        "pending_reports": 0,
        "pending_bytes": 0,
        "last_seq": 0,
        "dropped_total": 0,
        "dead_letters": 0,
        "dead_lettered_total": 0,
        "dead_letters_dropped": 0,
        "dead_letters_newest": [],
        "refused_devices": [],
        "unknown_fields": [],
        "last_send": None,
    }
    # Opening a missing spool would create it, possibly owned by the wrong user.
    if config.spool_path.exists():
        with Spool(config.spool_path, config.spool_max_bytes) as spool:
            last = spool.last_send()
            notes = spool.ack_notes()
            status.update(
                pending_reports=spool.pending_count(),
                pending_bytes=spool.pending_bytes(),
                last_seq=spool.last_seq(),
                dropped_total=spool.dropped_total(),
                dead_letters=spool.dead_letter_count(),
                dead_lettered_total=spool.dead_lettered_total(),
                dead_letters_dropped=spool.dead_letters_dropped(),
                dead_letters_newest=[_dead_letter_row(d) for d in spool.dead_letters(STATUS_DEAD_LETTERS)],
                refused_devices=notes.refused if notes else [],
                unknown_fields=notes.unknown_fields if notes else [],
                last_send=msgspec.to_builtins(last) if last else None,
            )
    return status


def _dead_letter_row(dead: DeadLetter) -> dict[str, Any]:
    return {"seq": dead.seq, "at": dead.at, "status": dead.status, "error": dead.error_line}


def _utc(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cmd_status(args: argparse.Namespace, config: AgentConfig) -> int:
    status = _status(config)
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(status), indent=2).decode() + "\n")
        return EXIT_OK
    last = status["last_send"]
    last_text = "never" if last is None else f"{_utc(last['at'])} {'ok' if last['ok'] else 'FAILED'}: {last['detail']}"
    rows = [
        ("agent id", status["agent_id"]),
        ("collector", status["collector_url"] or "not set"),
        ("token", f"{status['token_file']} ({'present' if status['enrolled'] else 'missing: run enroll'})"),
        ("spool", status["spool"]),
        (
            "pending",
            f"{status['pending_reports']} report(s), {status['pending_bytes']} of {status['spool_max_bytes']} bytes",
        ),
        ("last seq", str(status["last_seq"])),
        ("dropped", f"{status['dropped_total']} report(s) dropped because the spool was full"),
        ("last send", last_text),
        ("dead", _dead_letter_summary(status)),
    ]
    for label, value in rows:
        print(f"{label + ':':<11}{value}")
    for row in status["dead_letters_newest"]:
        print(f"{'':<11}{_dead_letter_line(row)}")
    for label, key in (("refused", "refused_devices"), ("ignored", "unknown_fields")):
        for i, line in enumerate(status[key]):
            print(f"{(label + ':') if i == 0 else '':<11}{line}")
    return EXIT_OK


def _dead_letter_summary(status: dict[str, Any]) -> str:
    count, dropped = status["dead_letters"], status["dead_letters_dropped"]
    text = f"{count} report(s) the collector could not take"
    if dropped:
        text += f" ({dropped} older ones deleted: the table was full)"
    return text + ("; newest (leitstand-agent deadletter list):" if count else "")


def _dead_letter_line(row: dict[str, Any]) -> str:
    return f"seq {row['seq']}  {_utc(row['at'])}  HTTP {row['status']}  {row['error']}"


def _open_existing_spool(config: AgentConfig) -> Spool:
    # Opening a missing spool would create it, possibly owned by the wrong user.
    if not config.spool_path.exists():
        raise _UsageError(f"no spool at {config.spool_path}: the agent has not run with this state directory")
    return Spool(config.spool_path, config.spool_max_bytes)


def _cmd_deadletter_list(args: argparse.Namespace, config: AgentConfig) -> int:
    with _open_existing_spool(config) as spool:
        letters = spool.dead_letters(args.limit, bodies=args.json)
        count = spool.dead_letter_count()
    if args.json:
        # One JSON object per line (the report as sent), so `jq` and `grep` work on it.
        for dead in letters:
            entry = {
                "seq": dead.seq,
                "at": dead.at,
                "status": dead.status,
                "error": dead.error,
                "report": msgspec.Raw(dead.body),
            }
            sys.stdout.write(msgspec.json.encode(entry).decode() + "\n")
        return EXIT_OK
    print(f"{count} dead letter(s) in {config.spool_path}" + (f", newest {len(letters)}:" if letters else ""))
    for dead in letters:
        print(_dead_letter_line(_dead_letter_row(dead)))
    return EXIT_OK


def _selected_seqs(args: argparse.Namespace, action: str) -> list[int] | None:
    if args.all and args.seq:
        raise _UsageError(f"deadletter {action}: give seqs or --all, not both")
    if not args.all and not args.seq:
        raise _UsageError(f"deadletter {action}: name the seq(s) to {action}, or pass --all")
    return None if args.all else list(args.seq)


def _cmd_deadletter_retry(args: argparse.Namespace, config: AgentConfig) -> int:
    seqs = _selected_seqs(args, "retry")
    with _open_existing_spool(config) as spool:
        moved = spool.retry_dead_letters(seqs)
    missing = sorted(set(seqs or ()) - set(moved))
    print(f"{len(moved)} dead letter(s) back in the outbox; the running agent sends them with its next flush")
    if missing:
        print(f"not dead letters (nothing done): {', '.join(map(str, missing))}")
    return EXIT_OK


def _cmd_deadletter_purge(args: argparse.Namespace, config: AgentConfig) -> int:
    seqs = _selected_seqs(args, "purge")
    with _open_existing_spool(config) as spool:
        purged = spool.purge_dead_letters(seqs)
    for seq in purged:
        log.warning("dead letter seq %s deleted for good (leitstand-agent deadletter purge)", seq)
    print(f"{len(purged)} dead letter(s) deleted for good")
    missing = sorted(set(seqs or ()) - set(purged))
    if missing:
        print(f"not dead letters (nothing done): {', '.join(map(str, missing))}")
    return EXIT_OK


# -- parser and entry point -----------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leitstand-agent",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="config file (default: see above)")
    parser.add_argument("--version", action="version", version=f"leitstand-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="only warnings and errors")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace, AgentConfig], int], summary: str, epilog: str) -> Any:
        return _add_command(commands, name, func, summary, epilog)

    add(
        "once",
        _cmd_once,
        "Print one report (with the agent header) as JSON to stdout. No network, no spool.",
        "example:\n  leitstand-agent once | jq .report.cpu",
    )
    add(
        "run",
        _cmd_run,
        "Sample every sample_interval and send every send_interval until SIGTERM/SIGINT.",
        "Reports are spooled on disk first, so a collector outage loses nothing (up to\n"
        "spool_max_bytes; then the oldest are dropped and counted).\n\n"
        "example:\n  LEITSTAND_AGENT_SAMPLE_INTERVAL=5 leitstand-agent -v run",
    )
    enroll_parser = add(
        "enroll",
        _cmd_enroll,
        "Trade an enroll token for this agent's own token and store it with the collector URL.",
        "The agent token goes to token_file (default <state_dir>/token, mode 0600), the\n"
        "collector URL and CA bundle to <state_dir>/enrollment.json.\n\n"
        "examples:\n"
        "  leitstand-agent enroll --collector https://leitstand.kreis.example --enroll-token-file /root/enroll.token\n"
        '  echo "$TOKEN" | leitstand-agent enroll --collector https://10.0.0.5:8443 \\\n'
        "      --enroll-token-file - --ca-bundle /etc/leitstand/ca.pem",
    )
    enroll_parser.add_argument(
        "--collector", required=True, metavar="URL", type=_url_argument, help="collector base URL"
    )
    token_source = enroll_parser.add_mutually_exclusive_group(required=True)
    token_source.add_argument(
        "--enroll-token", metavar="TOKEN", help="the enroll token (visible in ps and shell history)"
    )
    token_source.add_argument(
        "--enroll-token-file", metavar="FILE", help="read the enroll token from FILE ('-': stdin)"
    )
    enroll_parser.add_argument("--ca-bundle", metavar="FILE", help="PEM file of CAs that sign the collector's cert")
    enroll_parser.add_argument("--hostname", help="hostname to register (default: this host's)")
    enroll_parser.add_argument("--force", action="store_true", help="replace an existing agent token")
    status_parser = add(
        "status",
        _cmd_status,
        "Show spool depth, last seq, dropped reports, dead letters and the last send result.",
        "examples:\n  leitstand-agent status\n  leitstand-agent status --json",
    )
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    _add_deadletter_parser(commands)
    snmp_parser = commands.add_parser("snmp", help="SNMP device tools", description="SNMP device tools")
    snmp_commands = snmp_parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=_LateArgumentsParser
    )
    probe_parser = snmp_commands.add_parser(
        "probe",
        add_arguments=_add_probe_arguments,
        help="Poll one device once and print what the poller would read.",
        description="Poll one device once and print what the poller would read (--json: the wire-format reading).",
        epilog="examples:\n"
        "  leitstand-agent snmp probe 10.1.2.30 --community-env COMMUNITY\n"
        "  AUTH=... PRIV=... leitstand-agent snmp probe usv.rathaus:161 --v3-user leitstand \\\n"
        "      --auth sha256 --auth-key-env AUTH --priv aes256 --priv-key-env PRIV --kind ups --json\n\n"
        "exit codes: 0 the device answered, 2 usage error, 4 the poll failed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    probe_parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="config file")
    probe_parser.set_defaults(func=_cmd_snmp_probe)
    return parser


def _add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    from agent.snmp import probe

    probe.add_arguments(parser)


class _LateArgumentsParser(argparse.ArgumentParser):
    """A subcommand parser that adds its arguments only when it is used (parsed or its help shown).

    `run` builds the whole command line too; the probe's arguments come from the SNMP
    package, which an agent without SNMP devices should not load.
    """

    def __init__(
        self, *args: Any, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._add_late = add_arguments

    def _complete(self) -> None:
        if self._add_late is not None:
            add, self._add_late = self._add_late, None
            add(self)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self._complete()
        return super().parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()


def _add_command(
    commands: Any, name: str, func: Callable[[argparse.Namespace, AgentConfig], int], summary: str, epilog: str
) -> Any:
    sub = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Also accepted after the subcommand. SUPPRESS keeps an absent one from erasing
    # the global value (an action shared through `parents=` would share its default too).
    sub.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="config file")
    sub.set_defaults(func=func)
    return sub


def _add_deadletter_parser(commands: Any) -> None:
    dead_parser = commands.add_parser(
        "deadletter",
        help="Reports the collector could not take: list, retry or purge them.",
        description=(
            "A report the collector refused on its own (400/413/422, or a 500 that repeated) is moved\n"
            "to the spool's dead-letter table so the reports after it can flow. Nothing leaves it\n"
            "unless you retry or purge it."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dead_commands = dead_parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    actions = (
        (
            "list",
            _cmd_deadletter_list,
            "List dead letters, newest first (--json: one object per line with the report).",
            "examples:\n  leitstand-agent deadletter list\n"
            "  leitstand-agent deadletter list --json > /root/leitstand-dead-letters.jsonl",
        ),
        (
            "retry",
            _cmd_deadletter_retry,
            "Put dead letters back into the outbox (after the collector was fixed).",
            "The running agent sends them with its next flush, under their old seq; the\n"
            "collector stores each once.\n\n"
            "examples:\n  leitstand-agent deadletter retry 4711\n  leitstand-agent deadletter retry --all",
        ),
        (
            "purge",
            _cmd_deadletter_purge,
            "Delete dead letters for good (export them with `list --json` first).",
            "examples:\n  leitstand-agent deadletter purge 4711 4712\n  leitstand-agent deadletter purge --all",
        ),
    )
    for name, func, summary, epilog in actions:
        sub = _add_command(dead_commands, name, func, summary, epilog)
        if name == "list":
            sub.add_argument("--json", action="store_true", help="JSON lines, each with the report as sent")
            sub.add_argument("--limit", type=int, metavar="N", help="only the newest N")
        else:
            sub.add_argument("seq", type=int, nargs="*", help="seq(s) of the dead letter(s)")
            sub.add_argument("--all", action="store_true", help=f"{name} every dead letter")


def _cmd_snmp_probe(args: argparse.Namespace, config: AgentConfig) -> int:
    from agent.snmp import probe

    try:
        device = probe.device_from_args(args)
    except ValueError as exc:  # DeviceConfigError included; never carries a secret
        raise _UsageError(str(exc)) from None
    reading = probe.probe(device)
    if args.json:
        sys.stdout.write(msgspec.json.format(wire.encode(reading), indent=2).decode() + "\n")
    else:
        print(probe.render_text(reading))
    return EXIT_OK if reading.ok else EXIT_TRANSPORT


def _url_argument(value: str) -> str:
    try:
        return validate_collector_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _configure_logging(verbosity: int) -> tuple[logging.Handler, int]:
    root = logging.getLogger()
    previous_level = root.level
    handler = logging.StreamHandler(sys.stderr)
    # journald stamps each line itself; a terminal needs the time.
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s %(levelname)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO)
    return handler, previous_level


def _error(message: str) -> None:
    print(f"leitstand-agent: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leitstand-agent`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler, previous_level = _configure_logging(args.verbose - args.quiet)
    try:
        config = load_config(args.config)
        return int(args.func(args, config))
    except ConfigError as exc:
        _error(f"configuration error: {exc}")
        return EXIT_CONFIG
    except (identity.NotEnrolledError, _UsageError) as exc:
        _error(str(exc))
        return EXIT_CONFIG
    except AuthError as exc:
        _error(f"the collector refused the token: {exc}")
        return EXIT_REJECTED
    except RejectedError as exc:
        _error(f"the collector rejected the request: {exc}")
        return EXIT_REJECTED
    except TransportError as exc:
        _error(f"cannot reach the collector: {exc}")
        return EXIT_TRANSPORT
    except wire.WireError as exc:
        _error(f"bug: the sampler produced an invalid report: {exc} {exc.detail}")
        return EXIT_INTERNAL
    except (SpoolError, sqlite3.Error, OSError) as exc:
        _error(f"state directory or spool unusable: {exc}")
        return EXIT_STATE
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)
        handler.close()


if __name__ == "__main__":
    sys.exit(main())
