"""``leitstand-collector dashboards push``: put the dashboards into a Grafana
through its HTTP API (grafana-client).

Steps, each reported: the folder is created unless it exists (by uid); the
dashboards' ``${DS_PROMETHEUS}`` is mapped to the uid of a Prometheus
datasource of that Grafana (named with ``--datasource``, else its default
Prometheus, else its only one); each dashboard is compared with the one
stored under its uid and written only if it changed, with ``overwrite``
(so the uid, never the title, identifies it). Errors become PushError with
a message that says what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaServerError, GrafanaUnauthorizedError

from ..errors import CollectorError

__all__ = ["Change", "PushError", "folder_uid", "push"]

MESSAGE = "leitstand-collector dashboards push"


class PushError(CollectorError):
    pass


@dataclass(frozen=True)
class Change:
    what: str  # "folder" | "dashboard"
    uid: str
    title: str
    action: str  # created | updated | unchanged | exists

    def __str__(self) -> str:
        return f"{self.what} {self.title} ({self.uid}): {self.action}"


def folder_uid(title: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", title.lower()).strip("-")[:40] or "leitstand"


def _explain(exc: GrafanaException, url: str, doing: str) -> PushError:
    response = getattr(exc, "response", None)
    message = str(response["message"]) if isinstance(response, dict) and "message" in response else exc.message
    if isinstance(exc, GrafanaUnauthorizedError):
        return PushError(
            f"Grafana at {url} rejected the token (401 Unauthorized) while {doing}",
            ["pass a service account token (Administration > Service accounts) with the Editor role"],
        )
    if isinstance(exc, GrafanaClientError) and exc.status_code == 403:
        return PushError(
            f"the token may not do this (403 Forbidden) while {doing}", ["give its account the Editor role"]
        )
    if isinstance(exc, GrafanaClientError) and exc.status_code == 412:
        return PushError(
            f"Grafana refused the change (412 Precondition Failed) while {doing}: {message}",
            [
                "another dashboard with the same title exists in the folder, or it was changed meanwhile; "
                "rename or delete it in Grafana and push again"
            ],
        )
    if isinstance(exc, GrafanaServerError):
        return PushError(
            f"Grafana at {url} failed ({exc.status_code}) while {doing}: {message}",
            ["a server error on Grafana's side; nothing after this step was pushed, try again later"],
        )
    if exc.status_code == 0:
        return PushError(f"cannot reach Grafana at {url}: {message}", ["check --grafana-url"])
    return PushError(f"Grafana answered {exc.status_code} while {doing}: {message}")


def _not_found(exc: GrafanaException) -> bool:
    return isinstance(exc, GrafanaClientError) and exc.status_code == 404


def _datasource_uid(api: GrafanaApi, name: str | None) -> str:
    sources = [d for d in api.datasource.list_datasources() if d.get("type") == "prometheus"]
    if name is not None:
        sources = [d for d in sources if d.get("name") == name]
        if not sources:
            raise PushError(f"Grafana has no Prometheus datasource named {name!r}")
    elif len(sources) > 1:
        sources = [d for d in sources if d.get("isDefault")] or sources[:0]
        if not sources:
            raise PushError("Grafana has several Prometheus datasources", ["choose one with --datasource NAME"])
    if not sources:
        raise PushError("Grafana has no Prometheus datasource", ["add the one that scrapes the collector, then push"])
    return str(sources[0]["uid"])


def _mapped(doc: Mapping[str, Any], ds_uid: str) -> dict[str, Any]:
    """The dashboard as Grafana stores it after an import: inputs resolved."""
    text = json.dumps({k: v for k, v in doc.items() if not k.startswith("__")})
    out: dict[str, Any] = json.loads(text.replace("${DS_PROMETHEUS}", ds_uid))
    out["id"] = None
    return out


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("id", "version")}


def push(
    api: GrafanaApi,
    dashboards: Mapping[str, Mapping[str, Any]],
    *,
    url: str,
    folder: str = "Leitstand",
    datasource: str | None = None,
) -> list[Change]:
    """Push ``dashboards`` (name -> JSON with ``${DS_PROMETHEUS}``); returns what changed."""
    changes: list[Change] = []
    fuid = folder_uid(folder)
    doing = f"looking up folder {folder!r}"
    try:
        try:
            api.folder.get_folder(fuid)
            changes.append(Change("folder", fuid, folder, "exists"))
        except GrafanaException as exc:
            if not _not_found(exc):
                raise
            doing = f"creating folder {folder!r}"
            api.folder.create_folder(folder, uid=fuid)
            changes.append(Change("folder", fuid, folder, "created"))
        doing = "listing datasources"
        ds_uid = _datasource_uid(api, datasource)
        for doc in dashboards.values():
            uid, title = str(doc["uid"]), str(doc["title"])
            dashboard = _mapped(doc, ds_uid)
            doing = f"reading dashboard {uid}"
            try:
                stored = api.dashboard.get_dashboard(uid)
            except GrafanaException as exc:
                if not _not_found(exc):
                    raise
                stored = None
            if stored is not None:
                same = _comparable(stored.get("dashboard", {})) == _comparable(dashboard)
                if same and (stored.get("meta") or {}).get("folderUid") == fuid:
                    changes.append(Change("dashboard", uid, title, "unchanged"))
                    continue
            doing = f"writing dashboard {uid}"
            api.dashboard.update_dashboard(
                {"dashboard": dashboard, "folderUid": fuid, "overwrite": True, "message": MESSAGE}
            )
            changes.append(Change("dashboard", uid, title, "created" if stored is None else "updated"))
    except GrafanaException as exc:
        raise _explain(exc, url, doing) from exc
    except OSError as exc:
        # grafana-client's HTTP stack (niquests) raises its connection errors and
        # timeouts as OSError subclasses: an unreachable Grafana, not a bug
        raise PushError(
            f"cannot reach Grafana at {url} while {doing}: {_reason(exc)}",
            ["check --grafana-url and that Grafana runs and is reachable; nothing after this step was pushed"],
        ) from exc
    return changes


def _reason(exc: OSError) -> str:
    """The innermost cause of a connection error (`Connection refused`), not the pool's retry summary."""
    cause: BaseException = exc
    while cause.__cause__ is not None or (cause.__context__ is not None and not cause.__suppress_context__):
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1).strip() if match else (text.splitlines()[0][:200] if text else type(exc).__name__)
