"""The token cache: valid lookups kept for [server] token_cache_s, revocation
through this collector at once, nothing of one token served for another, and
a size bound that random tokens cannot push."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from collector import admin
from collector.config import Config, ServerConfig
from collector.tokens import TokenCache, new_token
from tests.collector.conftest import Env, FakeClock, auth, batch, report

T0 = 1_764_000_000.0


def test_cache_keeps_valid_lookups_for_the_ttl_only() -> None:
    clock = FakeClock(100.0)
    cache: TokenCache[str] = TokenCache(ttl_s=5.0, clock=clock)
    token_id, token = new_token()
    cache.put(token, token_id, "principal")
    assert cache.get(token) == "principal"
    clock.now += 4.9
    assert cache.get(token) == "principal"
    clock.now += 0.1
    assert cache.get(token) is None
    assert len(cache) == 0


def test_cache_is_keyed_by_the_whole_token_not_its_id() -> None:
    cache: TokenCache[str] = TokenCache()
    token_id, token = new_token()
    cache.put(token, token_id, "t1")
    forged = f"lst_{token_id}_{secrets.token_urlsafe(32)}"  # the public id with another secret
    assert cache.get(forged) is None


def test_invalidate_drops_every_entry_of_the_id() -> None:
    cache: TokenCache[str] = TokenCache()
    a_id, a = new_token()
    b_id, b = new_token()
    cache.put(a, a_id, "a")
    cache.put(b, b_id, "b")
    cache.invalidate(a_id)
    assert cache.get(a) is None
    assert cache.get(b) == "b"


def test_a_lookup_racing_an_invalidation_is_not_stored() -> None:
    cache: TokenCache[str] = TokenCache()
    token_id, token = new_token()
    started = cache.generation  # the lookup reads the token as still valid ...
    cache.invalidate(token_id)  # ... while this collector revokes it
    cache.put(token, token_id, "stale", since=started)
    assert cache.get(token) is None
    cache.put(token, token_id, "fresh", since=cache.generation)
    assert cache.get(token) == "fresh"


def test_cache_is_bounded_least_recently_used_first() -> None:
    cache: TokenCache[int] = TokenCache(size=3)
    tokens = [new_token() for _ in range(4)]
    for i, (token_id, token) in enumerate(tokens[:3]):
        cache.put(token, token_id, i)
    assert cache.get(tokens[0][1]) == 0  # used: the second is now the oldest
    cache.put(tokens[3][1], tokens[3][0], 3)
    assert len(cache) == 3
    assert cache.get(tokens[1][1]) is None
    assert [cache.get(t) for _, t in (tokens[0], tokens[2], tokens[3])] == [0, 2, 3]


def test_ttl_zero_caches_nothing() -> None:
    cache: TokenCache[str] = TokenCache(ttl_s=0)
    token_id, token = new_token()
    cache.put(token, token_id, "x")
    assert cache.get(token) is None
    assert len(cache) == 0


def _count_reads(env: Env) -> list[int]:
    collector = env.app.state.collector
    read = collector.read
    calls = [0]

    async def counted(fn: Callable[[Any], Any]) -> Any:
        calls[0] += 1
        return await read(fn)

    collector.read = counted
    return calls


async def test_a_cached_token_is_not_looked_up_again(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    assert (await env.post(token, batch("a1", [report(1, T0 - 60)]))).status_code == 200
    calls = _count_reads(env)
    for seq in range(2, 5):
        assert (await env.post(token, batch("a1", [report(seq, T0 - 60 + seq)]))).status_code == 200
    assert calls[0] == 0


async def test_token_cache_off_looks_up_every_request(make_env: Callable[..., Env]) -> None:
    env = make_env(Config(server=ServerConfig(token_cache_s=0)))
    token = await env.enroll(env.tenant("t1"), "a1")
    assert (await env.post(token, batch("a1", [report(1, T0 - 60)]))).status_code == 200
    conn = env.db()
    admin.revoke_token(conn, token.split("_")[1], actor="test")
    conn.close()
    r = await env.post(token, batch("a1", [report(2, T0)]))
    assert r.status_code == 401
    assert r.json()["error"] == "token revoked"
    await env.client.aclose()


async def test_reenrollment_revokes_a_cached_token_at_once(env: Env) -> None:
    token = await env.enroll(env.tenant("t1"), "a1")
    assert (await env.post(token, batch("a1", [report(1, T0 - 60)]))).status_code == 200  # now cached
    await env.enroll(env.admin_token, "a1")
    r = await env.post(token, batch("a1", [report(2, T0)]))
    assert r.status_code == 401
    assert r.json()["error"] == "token revoked"


async def test_cached_tenant_never_serves_another_token(env: Env) -> None:
    conn = env.db()
    for name in ("t1", "t2"):
        admin.add_tenant(conn, name, actor="test")
    t1 = admin.create_token(conn, "tenant", actor="test", tenant="t1")[1]
    t2 = admin.create_token(conn, "tenant", actor="test", tenant="t2")[1]
    conn.close()
    for e, name in ((await env.enroll(env.tenant("t1"), "a1"), "a1"), (await env.enroll(env.tenant("t2"), "a2"), "a2")):
        assert (await env.post(e, batch(name, [report(1, T0 - 60)]))).status_code == 200
    for _ in range(3):
        for token, tenant in ((t1, "t1"), (t2, "t2")):
            r = await env.client.get("/api/v1/hosts", headers=auth(token))
            assert r.status_code == 200, r.text
            assert {h["tenant"] for h in r.json()["hosts"]} == {tenant}
    forged = f"lst_{t1.split('_')[1]}_{secrets.token_urlsafe(32)}"  # t1's public id, a wrong secret
    r = await env.client.get("/api/v1/hosts", headers=auth(forged))
    assert r.status_code == 401


async def test_random_tokens_do_not_grow_the_cache(env: Env) -> None:
    cache = env.app.state.collector.tokens
    for _ in range(200):
        r = await env.client.get("/api/v1/hosts", headers=auth(new_token()[1]))
        assert r.status_code == 401
    assert len(cache) == 0
    assert (await env.client.get("/api/v1/hosts", headers=auth(env.admin_token))).status_code == 200
    assert len(cache) == 1
