"""``leitstand-collector dashboards push`` against a stand-in Grafana.

No Grafana package can be installed here (Debian has none, and the tests
download nothing), so a small HTTP server started by the test plays Grafana:
it answers the endpoints of Grafana's HTTP API the push uses, the way the
API documents them (GET/POST /api/folders, GET /api/datasources, GET
/api/dashboards/uid/:uid, POST /api/dashboards/db), keeps what was written,
and records every call, so the tests check the requests sent: the folder
created, the datasource mapped to the uid of Grafana's Prometheus, each
dashboard overwritten by uid, a second push reported as unchanged, and
401/412/5xx turned into clear messages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from collector.cli import main
from collector.dashboards import DASHBOARDS

TOKEN = "glsa_test"


@dataclass
class FakeGrafana:
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": 1, "uid": "loki-1", "name": "Loki", "type": "loki", "isDefault": False},
            {"id": 2, "uid": "prom-42", "name": "Prometheus", "type": "prometheus", "isDefault": True},
        ]
    )
    #: (method, path prefix) -> (status, body) to answer instead
    fail: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    url: str = ""

    def handle(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        if auth != f"Bearer {TOKEN}":
            return 401, {"message": "Unauthorized"}
        for (m, prefix), answer in self.fail.items():
            if m == method and path.startswith(prefix):
                return answer
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
        if method == "POST" and path == "/api/folders":
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": len(self.folders) + 1}
            return 200, self.folders[body["uid"]]
        if method == "GET" and path == "/api/datasources":
            return 200, self.datasources
        if method == "GET" and path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.dashboards:
                return 404, {"message": "Dashboard not found"}
            return 200, self.dashboards[uid]
        if method == "POST" and path == "/api/dashboards/db":
            dash = body["dashboard"]
            old = self.dashboards.get(dash["uid"])
            if old is not None and not body.get("overwrite"):
                return 412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
            version = (old["dashboard"]["version"] + 1) if old else 1
            stored = {**dash, "id": 7, "version": version}
            self.dashboards[dash["uid"]] = {"dashboard": stored, "meta": {"folderUid": body.get("folderUid")}}
            return 200, {"status": "success", "uid": dash["uid"], "version": version, "id": 7}
        return 404, {"message": "not found"}


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body = fake.handle(
                method, self.path.split("?")[0], self.headers.get("Authorization"), json.loads(raw) if raw else None
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


def push(grafana: FakeGrafana, *extra: str, token: str = TOKEN) -> int:
    return main(["dashboards", "push", "--grafana-url", grafana.url, "--token", token, *extra])


def test_push_creates_the_folder_maps_the_datasource_and_writes_by_uid(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(grafana, "--folder", "Leitstand KRITIS") == 0
    assert grafana.folders["leitstand-kritis"]["title"] == "Leitstand KRITIS"
    posts = [body for method, path, body in grafana.calls if (method, path) == ("POST", "/api/dashboards/db")]
    assert {p["dashboard"]["uid"] for p in posts} == {d.uid for d in DASHBOARDS.values()}
    for p in posts:
        assert p["overwrite"] is True and p["folderUid"] == "leitstand-kritis"
        text = json.dumps(p["dashboard"])
        assert "${DS_PROMETHEUS}" not in text and '"uid": "prom-42"' in text and "__inputs" not in text
    out = capsys.readouterr().out
    assert "folder Leitstand KRITIS (leitstand-kritis): created" in out
    assert "dashboard Leitstand · Flotte (leitstand-fleet): created" in out
    assert "5 dashboard(s) written, 0 unchanged" in out


def test_a_second_push_reports_unchanged_and_a_changed_dashboard_is_overwritten(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(grafana) == 0
    grafana.dashboards["leitstand-host"]["dashboard"]["title"] = "edited by hand in Grafana"
    capsys.readouterr()
    grafana.calls.clear()
    assert push(grafana) == 0
    out = capsys.readouterr().out
    assert "folder Leitstand (leitstand): exists" in out
    assert "dashboard Leitstand · Host (leitstand-host): updated" in out
    assert "dashboard Leitstand · Flotte (leitstand-fleet): unchanged" in out
    assert "1 dashboard(s) written, 4 unchanged" in out
    assert [p for m, p, _ in grafana.calls if m == "POST"] == ["/api/dashboards/db"]
    assert grafana.dashboards["leitstand-host"]["dashboard"]["title"] == "Leitstand · Host"


def test_unauthorized_is_a_clear_message(grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]) -> None:
    assert push(grafana, token="wrong") == 1
    err = capsys.readouterr().err
    assert "rejected the token (401 Unauthorized)" in err and "service account token" in err
    assert not grafana.dashboards


def test_precondition_failed_names_the_dashboard(grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]) -> None:
    grafana.fail[("POST", "/api/dashboards/db")] = (
        412,
        {"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"},
    )
    assert push(grafana) == 1
    err = capsys.readouterr().err
    assert "412 Precondition Failed" in err and "writing dashboard leitstand-fleet" in err
    assert "same name in the folder already exists" in err


def test_server_error_stops_and_says_so(grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]) -> None:
    grafana.fail[("POST", "/api/folders")] = (500, {"message": "database is locked"})
    assert push(grafana) == 1
    err = capsys.readouterr().err
    assert "failed (500) while creating folder 'Leitstand': database is locked" in err
    assert not any(p == "/api/dashboards/db" for _, p, _ in grafana.calls)


def test_no_prometheus_datasource(grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]) -> None:
    grafana.datasources = [d for d in grafana.datasources if d["type"] != "prometheus"]
    assert push(grafana) == 1
    assert "Grafana has no Prometheus datasource" in capsys.readouterr().err


def test_push_from_the_committed_directory(grafana: FakeGrafana, tmp_path: Any) -> None:
    from pathlib import Path

    directory = Path(__file__).resolve().parents[2] / "dashboards"
    assert push(grafana, "--dir", str(directory)) == 0
    assert len(grafana.dashboards) == 5


def test_unreachable_grafana_is_one_message_and_exit_code_1(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support import free_port

    url = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there
    assert main(["dashboards", "push", "--grafana-url", url, "--token", TOKEN]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"leitstand-collector: cannot reach Grafana at {url} while looking up folder 'Leitstand': Connection refused"
    )
    assert "Traceback" not in err and len(err.splitlines()) == 2
