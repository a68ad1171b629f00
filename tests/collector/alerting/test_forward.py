"""Forwarding: a webhook with retries, timeouts and dead letters against a
local test server, and a real Alertmanager (Debian prometheus-alertmanager)
receiving the alert with its runbook URL."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from collector.alerting import storage
from collector.config import Config
from tests.collector.alerting.conftest import tick
from tests.collector.conftest import Env, batch, report
from tests.support import free_port, require_tool, wait_until


class Hook:
    """A local webhook receiver answering with the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None, *, hang: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hang:
                    hook.release.wait(10)
                    return
                hook.received.append({"body": json.loads(body), "auth": self.headers.get("Authorization")})
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Callable[..., Hook]]:
    hooks: list[Hook] = []

    def make(*args: Any, **kw: Any) -> Hook:
        hooks.append(Hook(*args, **kw))
        return hooks[-1]

    yield make
    for h in hooks:
        h.close()


def webhook_env(make_env: Callable[..., Env], url: str, **webhook: Any) -> Env:
    config = Config()
    config.alerts.webhook.url = url
    config.alerts.webhook.retries = webhook.get("retries", 2)
    config.alerts.webhook.backoff_s = webhook.get("backoff_s", 10.0)
    config.alerts.webhook.timeout_s = webhook.get("timeout_s", 2.0)
    config.alerts.webhook.token_env = webhook.get("token_env", "")
    return make_env(config)


async def fire(env: Env) -> None:
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    r = await env.post(token, batch("srv-1", [report(1, env.clock.now)]))
    assert r.status_code == 200
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)


def outbox(env: Env) -> list[dict[str, Any]]:
    conn = env.db()
    try:
        return storage.notifications(conn)
    finally:
        conn.close()


async def test_webhook_gets_the_alert_with_its_runbook_url(
    make_env: Callable[..., Env], hook_factory: Callable[..., Hook], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEITSTAND_TEST_HOOK_TOKEN", "s3cret")
    hook = hook_factory()
    env = webhook_env(make_env, hook.url, token_env="LEITSTAND_TEST_HOOK_TOKEN")
    await fire(env)
    (got,) = hook.received
    assert got["auth"] == "Bearer s3cret"
    body = got["body"]
    assert body["event"] == "firing" and body["source"] == "leitstand"
    assert body["alert"]["rule"] == "host_down" and body["alert"]["runbook_url"].endswith("/runbooks/host-down")
    assert body["alert"]["summary"] == "Host srv-1 meldet sich nicht"
    assert [n["status"] for n in outbox(env)] == ["delivered"]
    await env.client.aclose()


async def test_webhook_failures_are_retried_with_backoff(
    make_env: Callable[..., Env], hook_factory: Callable[..., Hook]
) -> None:
    hook = hook_factory([503, 429])
    env = webhook_env(make_env, hook.url, retries=3, backoff_s=10)
    await fire(env)
    (n,) = outbox(env)
    assert n["status"] == "pending" and n["attempts"] == 1 and "HTTP 503" in n["last_error"]
    env.clock.now += 5  # backoff not over: nothing is tried
    await tick(env)
    assert len(hook.received) == 1
    env.clock.now += 5
    await tick(env)
    assert outbox(env)[0]["attempts"] == 2  # 429, retried too
    env.clock.now += 20  # backoff doubles
    await tick(env)
    (n,) = outbox(env)
    assert n["status"] == "delivered" and n["attempts"] == 3
    assert len(hook.received) == 3
    await env.client.aclose()


async def test_webhook_that_is_down_ends_in_a_dead_letter_and_the_collector_keeps_working(
    make_env: Callable[..., Env],
) -> None:
    env = webhook_env(make_env, f"http://127.0.0.1:{free_port()}/hook", retries=2, backoff_s=10)
    await fire(env)
    for wait in (10, 20):
        env.clock.now += wait
        await tick(env)
    (n,) = outbox(env)
    assert n["status"] == "dead" and n["attempts"] == 3
    assert "Connection refused" in n["last_error"] or "URLError" in n["last_error"]
    # nothing more is tried, and ingest and the API go on
    env.clock.now += 3600
    await tick(env)
    assert outbox(env)[0]["attempts"] == 3
    token = await env.enroll(env.tenant("stadt-a"), "srv-2")
    assert (await env.post(token, batch("srv-2", [report(1, env.clock.now)]))).status_code == 200
    assert (await env.client.get("/healthz")).status_code == 200
    await env.client.aclose()


async def test_webhook_timeout_is_retried(make_env: Callable[..., Env], hook_factory: Callable[..., Hook]) -> None:
    slow = hook_factory(hang=True)
    env = webhook_env(make_env, slow.url, retries=1, timeout_s=0.3)
    await fire(env)
    (n,) = outbox(env)
    assert n["status"] == "pending" and "timed out" in n["last_error"].lower()
    await env.client.aclose()


async def test_webhook_client_error_is_a_dead_letter_at_once(
    make_env: Callable[..., Env], hook_factory: Callable[..., Hook]
) -> None:
    """A 4xx is a bug to report, not to retry."""
    rejecting = hook_factory([400])
    env = webhook_env(make_env, rejecting.url, retries=5)
    await fire(env)
    (n,) = outbox(env)
    assert n["status"] == "dead" and n["attempts"] == 1 and "HTTP 400" in n["last_error"]
    await env.client.aclose()


# -- a real Alertmanager -------------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require_tool("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"alertmanager exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
            return bool(r.status == 200)

    try:
        wait_until(ready, timeout=30, what="alertmanager ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def am_alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as r:
        result: list[dict[str, Any]] = json.loads(r.read())
    return result


@pytest.mark.slow
async def test_alertmanager_receives_the_alert_with_labels_and_runbook_url(
    make_env: Callable[..., Env], alertmanager: str
) -> None:
    config = Config()
    config.alerts.alertmanager.url = alertmanager
    config.alerts.external_url = "https://leitstand.kreis.example"
    env = make_env(config)
    env.clock.now = time.time() - 3720  # after the hour of silence it is now: Alertmanager uses its real clock
    token = await env.enroll(env.tenant("stadt-a"), "srv-1")
    await env.post(token, batch("srv-1", [report(1, env.clock.now)], hostname="rathaus-fs01"))
    env.clock.now += 3600
    await tick(env)
    env.clock.now += 120
    await tick(env)

    def arrived() -> dict[str, Any] | None:
        return next((a for a in am_alerts(alertmanager) if a["labels"].get("alertname") == "host_down"), None)

    alert = wait_until(arrived, timeout=10, what="the alert in Alertmanager")
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["tenant"] == "stadt-a" and alert["labels"]["host"] == "rathaus-fs01"
    assert alert["annotations"]["runbook_url"] == "https://leitstand.kreis.example/api/v1/runbooks/host-down"
    assert alert["annotations"]["summary"] == "Host rathaus-fs01 meldet sich nicht"
    # generatorURL opens in a browser without a token: the runbook as HTML, naming the alert
    alert_id = outbox(env)[0]["alert_id"]
    base = "https://leitstand.kreis.example"
    assert alert["generatorURL"] == f"{base}/api/v1/runbooks/host-down?format=html&lang=de&alert={alert_id}"
    page = await env.client.get(alert["generatorURL"].removeprefix(base), headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Host meldet sich nicht</h1>" in page.text and alert_id in page.text
    assert alert["status"]["state"] == "active"
    assert [n["status"] for n in outbox(env)] == ["delivered"]
    # back again: the resolution reaches Alertmanager, the alert leaves its active list
    await env.post(token, batch("srv-1", [report(2, env.clock.now)], hostname="rathaus-fs01"))
    await tick(env)
    wait_until(lambda: arrived() is None, timeout=10, what="the alert resolved in Alertmanager")
    await env.client.aclose()
