"""The web app's JSON API and pages over real HTTP on loopback: paging, filters, the
timeline's cursors, artifacts, the store page, actions, the live stream, access rules and
redaction (a secret planted in a session appears in no page and no API response)."""

from __future__ import annotations

import html
import re
import threading
import time
from typing import Any

import httpx
import orjson
import pytest

from llmspell import Runtime

#: Secrets planted in the session, each somewhere else; the last one only a configured
#: ``[state] redact_patterns`` pattern catches, as the CLI's output does.
PROVIDER_KEY = "sk-proj-Zq3xW9mT2vB8nK4pL7rJ1sYd"
PASSWORD = "hunter2-correct-horse-battery"
AWS_ID = "AKIAQWERTYUIOPASDFGH"
CUSTOM = "ACME-7F3K9Q2Z8W"
SECRETS = (PROVIDER_KEY, PASSWORD, AWS_ID, CUSTOM)
PATTERNS = {"state__redact_patterns": [r"ACME-[0-9A-Z]{10}"]}


def plant(rt: Runtime) -> str:
    """A session with a secret in its metadata, description, state, journal and artifacts."""
    s = rt.sessions.create("planted", description=f"deploys with {CUSTOM}", tags=["secret"],
                           metadata={"api_key": PROVIDER_KEY, "owner": "ops"})
    with rt.sessions.current(s.id):
        rt.state.save(f"session:{s.id}", "creds", {"password": PASSWORD, "user": "bob"})
        rt.state.save(f"session:{s.id}", "note", f"aws id {AWS_ID} and {PROVIDER_KEY}")
        rt.artifacts.store(s.id, "notes.txt", f"token {PROVIDER_KEY}\ncustom {CUSTOM}\n")
        rt.artifacts.store(s.id, "config.json", {"password": PASSWORD, "region": "eu"})
    rt.sessions.journal.append(s.id, "tool.call", {"tool": "http", "params": {
        "headers": {"Authorization": f"Bearer {PROVIDER_KEY}"}}, "result": CUSTOM,
        "latency_ms": 12.5})
    return s.id


def urls(sid: str) -> list[str]:
    pages = ["/sessions", f"/sessions/{sid}", f"/sessions/{sid}/timeline",
             f"/sessions/{sid}/artifacts", f"/sessions/{sid}/artifact?name=notes.txt",
             f"/sessions/{sid}/artifact?name=config.json", "/store"]
    return pages + ["/api" + p for p in pages if p != "/sessions/" + sid + "/artifact"] + [
        f"/api/sessions/{sid}/artifact/content?name=notes.txt",
        f"/api/sessions/{sid}/artifact/content?name=config.json",
        f"/api/sessions/{sid}/artifact?name=notes.txt", "/api/info",
        "/api/sessions/nope-not-a-session", f"/sessions/{sid}/artifact?name={PROVIDER_KEY}"]


def test_planted_secrets_appear_in_no_page_or_response(serve: Any, backend: Any) -> None:
    rt = backend.runtime(**PATTERNS)
    sid = plant(rt)
    # The secrets are really there, in the store, for the app to hide.
    assert rt.state.load(f"session:{sid}", "creds")["password"] == PASSWORD
    assert CUSTOM.encode() in rt.artifacts.read("notes.txt", session=sid)
    base = serve(rt)
    with httpx.Client(base_url=base) as http:
        for url in urls(sid):
            body = http.get(url).text
            found = [s for s in SECRETS if s in body]
            assert not found, f"{url} shows {found}"
        text = http.get(f"/api/sessions/{sid}/artifact/content?name=notes.txt").text
        assert "[REDACTED]" in text and "custom" in text
        shown = http.get(f"/api/sessions/{sid}").json()
        assert shown["session"]["metadata"] == {"api_key": "[REDACTED]", "owner": "ops"}


def test_session_list_filters_and_pages(mem: Runtime, serve: Any) -> None:
    made = [mem.sessions.create(f"run-{i:02d}", tags=["even"] if i % 2 == 0 else ["odd"])
            for i in range(25)]
    mem.sessions.suspend(made[3].id)
    base = serve(mem)
    with httpx.Client(base_url=base) as http:
        first = http.get("/api/sessions", params={"limit": 10}).json()
        assert [s["name"] for s in first["items"]] == [f"run-{i:02d}" for i in range(24, 14, -1)]
        assert first["next_offset"] == 10 and first["prev_offset"] is None
        seen = []
        offset: int | None = 0
        while offset is not None:
            page = http.get("/api/sessions", params={"limit": 10, "offset": offset}).json()
            seen += [s["id"] for s in page["items"]]
            offset = page["next_offset"]
        assert sorted(seen) == sorted(s.id for s in made)
        odd = http.get("/api/sessions", params={"tag": "odd"}).json()["items"]
        assert len(odd) == 12
        assert [s["name"] for s in http.get("/api/sessions", params={
            "status": "suspended"}).json()["items"]] == ["run-03"]
        assert [s["name"] for s in http.get("/api/sessions", params={
            "name": "RUN-1"}).json()["items"]][:1] == ["run-19"]
        page = http.get("/sessions", params={"limit": 10, "status": "active"}).text
        assert 'rel="next" href="/sessions?status=active&amp;limit=10&amp;offset=10"' in page
        no_js = http.get("/sessions", params={"name": "run-03"}).text
        assert "run-03" in no_js and "run-04" not in no_js


@pytest.mark.parametrize(("query", "argument", "rule"), [
    ({"limit": "0"}, "limit", "between 1 and 500"),
    ({"limit": "many"}, "limit", "whole number"),
    ({"offset": "-1"}, "offset", ">= 0"),
    ({"status": "sleeping"}, "status", "must be one of active"),
])
def test_bad_list_arguments_name_the_argument(mem: Runtime, serve: Any, query: dict[str, str],
                                              argument: str, rule: str) -> None:
    base = serve(mem)
    answer = httpx.get(base + "/api/sessions", params=query)
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "ValidationError"
    assert f"argument '{argument}'" in body["error"] and rule in body["error"]
    page = httpx.get(base + "/sessions", params=query)
    assert page.status_code == 400 and html.escape(rule) in page.text


def test_timeline_pages_by_cursor_both_ways(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("long")
    for i in range(120):
        mem.sessions.journal.append(s.id, "llm.call" if i % 3 == 0 else "event",
                                    {"i": i, "latency_ms": i, "usage": {"total_tokens": 2 * i}})
    last = mem.sessions.journal.last_seq(s.id)
    base = serve(mem)
    with httpx.Client(base_url=base) as http:
        url = f"/api/sessions/{s.id}/timeline"
        page = http.get(url, params={"limit": 50}).json()
        assert [e["seq"] for e in page["items"]] == list(range(1, 51))
        assert page["next_after"] == 50 and page["prev_before"] is None
        seqs, after = [], None
        while True:
            params = {"limit": 50} | ({"after": after} if after is not None else {})
            page = http.get(url, params=params).json()
            seqs += [e["seq"] for e in page["items"]]
            after = page["next_after"]
            if after is None:
                break
        assert seqs == list(range(1, last + 1))
        tail = http.get(url, params={"limit": 50, "before": last + 1}).json()
        assert [e["seq"] for e in tail["items"]] == list(range(last - 49, last + 1))
        assert tail["prev_before"] == last - 49 and tail["next_after"] is None
        back = http.get(url, params={"limit": 50, "before": tail["prev_before"]}).json()
        assert back["items"][-1]["seq"] == last - 50
        calls = http.get(url, params={"kind": "llm", "limit": 500}).json()["items"]
        assert len(calls) == 40 and all(e["kind"] == "llm.call" for e in calls)
        assert calls[1]["call"] and calls[1]["latency_ms"] == 3 and calls[1]["tokens"] == 6
        assert calls[1]["class"] == "llm"
        both = http.get(url, params={"after": 1, "before": 5})
        assert both.status_code == 400 and "'before'" in both.json()["error"]
        page = http.get(f"/sessions/{s.id}/timeline", params={"kind": "llm", "limit": 5}).text
        assert page.count('class="k-llm"') == 5 and "<details class=\"call\">" in page


def test_unknown_session_and_artifact_are_404(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("x")
    base = serve(mem)
    with httpx.Client(base_url=base) as http:
        for url in ("/api/sessions/0190aaaa-0000-7000-8000-000000000000",
                    "/sessions/0190aaaa-0000-7000-8000-000000000000/timeline",
                    f"/api/sessions/{s.id}/artifact?name=missing.txt"):
            assert http.get(url).status_code == 404, url
        answer = http.get(f"/api/sessions/{s.id}/artifact")
        assert answer.status_code == 400 and "argument 'name'" in answer.json()["error"]


def test_artifacts_versions_preview_and_download(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("art")
    mem.artifacts.store(s.id, "report.md", "# first\n")
    mem.artifacts.store(s.id, "report.md", "# second\n")
    mem.artifacts.store(s.id, "data.json", {"rows": [1, 2, 3]})
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    mem.artifacts.store(s.id, "dot.png", png, mime_type="image/png")
    base = serve(mem)
    with httpx.Client(base_url=base) as http:
        listed = http.get(f"/api/sessions/{s.id}/artifacts").json()["items"]
        assert [(a["name"], a["version"]) for a in listed] == [
            ("data.json", 1), ("dot.png", 1), ("report.md", 2)]
        one = http.get(f"/api/sessions/{s.id}/artifact", params={"name": "report.md"}).json()
        assert [v["version"] for v in one["versions"]] == [1, 2]
        assert one["preview"] == {"kind": "text", "text": "# second\n", "truncated": False}
        old = http.get(f"/api/sessions/{s.id}/artifact/content",
                       params={"name": "report.md", "version": 1})
        assert old.text == "# first\n" and "attachment" in old.headers["content-disposition"]
        data = http.get(f"/api/sessions/{s.id}/artifact", params={"name": "data.json"}).json()
        assert data["preview"] == {"kind": "json", "value": {"rows": [1, 2, 3]}}
        mem.artifacts.store(s.id, "big.json", {"rows": list(range(30_000))})
        big = http.get(f"/api/sessions/{s.id}/artifact", params={"name": "big.json"}).json()
        assert big["preview"]["kind"] == "text" and big["preview"]["truncated"]
        assert len(big["preview"]["text"]) == 64 * 1024
        image = http.get(f"/api/sessions/{s.id}/artifact/content",
                         params={"name": "dot.png", "inline": 1})
        assert image.content == png and image.headers["content-type"] == "image/png"
        assert image.headers["content-security-policy"].startswith("default-src 'none'")
        page = http.get(f"/sessions/{s.id}/artifact", params={"name": "dot.png"}).text
        assert '<img class="preview"' in page
        page = http.get(f"/sessions/{s.id}/artifact", params={"name": "report.md",
                                                              "version": 1}).text
        assert "# first" in page and "# second" not in page


def test_store_page_lists_backups_and_migration_status(rt: Runtime, serve: Any) -> None:
    rt.state.save("global", "k", 1)
    made = rt.backups.backup(description="nightly")
    base = serve(rt)
    status = httpx.get(base + "/api/store").json()
    assert [b["id"] for b in status["backups"]] == [made.id]
    assert status["backups"][0]["description"] == "nightly"
    assert status["migrations"]["current"] == rt.migrations.status()["current"]
    page = httpx.get(base + "/store").text
    assert made.id in page and "nightly" in page


def test_actions_are_off_unless_allowed(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("moving")
    base = serve(mem)
    key = httpx.get(base + "/api/info").json()["form_key"]
    refused = httpx.post(f"{base}/api/sessions/{s.id}/suspend",
                         headers={"X-LLMSpell-Form-Key": key})
    assert refused.status_code == 403 and "--allow-actions" in refused.json()["error"]
    assert mem.sessions.get(s.id).status == "active"
    assert "<form method=\"post\"" not in httpx.get(f"{base}/sessions/{s.id}").text


def test_allowed_actions_move_the_session(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("moving")
    base = serve(mem, allow_actions=True)
    with httpx.Client(base_url=base) as http:
        page = http.get(f"/sessions/{s.id}").text
        key = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        no_key = http.post(f"/sessions/{s.id}/suspend", data={})
        assert no_key.status_code == 403 and mem.sessions.get(s.id).status == "active"
        moved = http.post(f"/sessions/{s.id}/suspend", data={"csrf": key})
        assert moved.status_code == 303 and mem.sessions.get(s.id).status == "suspended"
        again = http.post(f"/api/sessions/{s.id}/suspend", headers={"X-LLMSpell-Form-Key": key})
        assert again.status_code == 409 and again.json()["type"] == "InvalidTransition"
        assert mem.sessions.get(s.id).status == "suspended"
        resumed = http.post(f"/api/sessions/{s.id}/resume", headers={"X-LLMSpell-Form-Key": key})
        assert resumed.json()["status"] == "active"
        unknown = http.post(f"/api/sessions/{s.id}/delete", headers={"X-LLMSpell-Form-Key": key})
        assert unknown.status_code == 404 and mem.sessions.exists(s.id)
        done = http.post(f"/api/sessions/{s.id}/complete", headers={"X-LLMSpell-Form-Key": key})
        assert done.json()["status"] == "completed"


def test_non_loopback_binding_refuses_every_request_without_the_token(
        mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("guarded")
    token = "t0ken-for-this-test-only-1234567890"
    # Bound to loopback here, but guarded as a non-loopback server is.
    base = serve(mem, loopback=False, token=token, allow_actions=True)
    paths = [p for p in urls(s.id) if "nope" not in p] + ["/", "/static/app.js",
                                                          "/static/style.css",
                                                          f"/api/sessions/{s.id}/events"]
    with httpx.Client(base_url=base) as http:
        for path in paths:
            answer = http.get(path)
            assert answer.status_code == 401, path
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
        posted = http.post(f"/api/sessions/{s.id}/suspend")
        assert posted.status_code == 401 and mem.sessions.get(s.id).status == "active"
        ok = http.get("/api/sessions", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        first = http.get(f"/sessions/{s.id}", params={"token": token})
        assert first.status_code == 200 and "llmspell_web" in first.headers["set-cookie"]
        assert http.get("/sessions").status_code == 200  # the cookie now carries it


def test_create_app_refuses_a_non_loopback_binding_without_token(mem: Runtime) -> None:
    from llmspell.errors import ValidationError
    from llmspell.web import create_app

    with pytest.raises(ValidationError, match="argument 'token'"):
        create_app(mem, loopback=False)
    with pytest.raises(ValidationError, match="argument 'poll_seconds'"):
        create_app(mem, poll_seconds=0)
    with pytest.raises(ValidationError, match="argument 'token': must be at least 16"):
        create_app(mem, token="short")
    with pytest.raises(ValidationError, match="argument 'allow_actions'"):
        create_app(mem, allow_actions="yes")


def test_loopback_server_refuses_foreign_host_headers(mem: Runtime, serve: Any) -> None:
    base = serve(mem)
    assert httpx.get(base + "/api/sessions").status_code == 200
    foreign = httpx.get(base + "/api/sessions", headers={"Host": "evil.example:80"})
    assert foreign.status_code == 403 and "loopback" in foreign.json()["error"]
    page = httpx.get(base + "/sessions", headers={"Host": "localhost"})
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def _events(response: httpx.Response, wanted: int, got: list[dict[str, Any]]) -> None:
    for line in response.iter_lines():
        if line.startswith("data: "):
            got.append(orjson.loads(line[6:]))
            if len(got) >= wanted:
                return


def test_live_timeline_streams_new_entries(mem: Runtime, serve: Any) -> None:
    s = mem.sessions.create("live")
    before = mem.sessions.journal.last_seq(s.id)
    base = serve(mem, poll_seconds=0.05)
    got: list[dict[str, Any]] = []
    with httpx.Client(base_url=base, timeout=10) as http, http.stream(
            "GET", f"/api/sessions/{s.id}/events", params={"kind": "tool"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=_events, args=(response, 3, got), daemon=True)
        reader.start()
        time.sleep(0.2)
        for i in range(3):
            mem.sessions.journal.append(s.id, "event", {"name": "noise", "i": i})
            mem.sessions.journal.append(s.id, "tool.call", {"tool": "calc", "i": i,
                                                            "api_key": PROVIDER_KEY})
        reader.join(10)
    assert [e["seq"] for e in got] == [before + 2, before + 4, before + 6]
    assert [e["data"]["i"] for e in got] == [0, 1, 2]
    assert all(PROVIDER_KEY not in orjson.dumps(e).decode() for e in got)
    # Each event carries its row as the timeline page renders it.
    page = httpx.get(f"{base}/sessions/{s.id}/timeline", params={"kind": "tool"}).text
    for event in got:
        row = event["html"].replace(' fresh"', '"')
        assert event["html"].startswith(f'<tr class="k-tool fresh" id="seq-{event["seq"]}"')
        assert row in page
    bad = httpx.get(f"{base}/api/sessions/{s.id}/events", params={"after": "x"})
    assert bad.status_code == 400 and "argument 'after'" in bad.json()["error"]


def test_listen_makes_a_tcp_socket_and_checks_its_port() -> None:
    import socket

    from llmspell.errors import ValidationError
    from llmspell.web.server import listen

    # proto IPPROTO_TCP is what makes asyncio turn Nagle off on accepted connections (with
    # 0, each answer on a kept-alive connection waited ~40 ms for a delayed ACK).
    with listen("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] > 0
    with pytest.raises(ValidationError, match="argument 'port'"):
        listen("127.0.0.1", 70000)


def test_session_page_lists_children_and_says_when_it_stops(mem: Runtime, serve: Any) -> None:
    parent = mem.sessions.create("parent")
    kids = [mem.sessions.create(f"kid-{i:03d}", parent_session_id=parent.id)
            for i in range(501)]
    base = serve(mem)
    shown = httpx.get(f"{base}/api/sessions/{parent.id}").json()
    assert [c["id"] for c in shown["children"]] == [k.id for k in kids[:500]]
    assert shown["forks"] == [] and shown["related_truncated"] is True
    assert "the first 500" in httpx.get(f"{base}/sessions/{parent.id}").text
    child = httpx.get(f"{base}/sessions/{kids[0].id}").text
    assert f'href="/sessions/{parent.id}"' in child
