"""Running the app under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .config import Config
from .db import Target, describe
from .errors import ConfigError

__all__ = ["parse_listen", "serve"]

log = logging.getLogger("leitstand.collector")


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"invalid listen address {listen!r}; expected HOST:PORT, e.g. 127.0.0.1:8470")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve(db_path: Target, config: Config, *, listen: str) -> None:
    host, port = parse_listen(listen)
    app = create_app(db_path, config)
    log.info("collector on http://%s:%s, database %s", host, port, describe(db_path))
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
