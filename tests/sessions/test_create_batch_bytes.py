"""A create's batch, byte for byte: the record, the index keys, the active count and the
journal entries (their secrets redacted) that ``SessionManager.create`` writes, with the ids,
correlation ids and clock fixed. The store's layout is a contract (existing stores must read
back), so a faster create must write exactly these."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import llmspell.sessions.manager as manager_module
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store

Batch = tuple[list[tuple[str, bytes]], dict[str, bytes | None]]


def _creates(monkeypatch: pytest.MonkeyPatch) -> list[Batch]:
    ids = (f"0190a1b2-c3d4-7e5f-8a9b-{i:012x}" for i in itertools.count(1))
    cids = (f"{i:032x}" for i in itertools.count(1))
    monkeypatch.setattr(manager_module, "new_id", lambda: next(ids))
    monkeypatch.setattr(manager_module, "correlation_id", lambda: next(cids))
    store = open_store("memory://")
    seen: list[Batch] = []
    real = store.batch_unchecked

    def batch(ops: Any, expect: Any) -> bool:
        seen.append(([tuple(op) for op in ops], dict(expect)))
        return real(ops, expect)

    monkeypatch.setattr(store, "batch_unchecked", batch)
    clock = ManualClock(1_754_000_000.123456)
    manager = SessionManager(store, settings=SessionSettings(), clock=clock)
    manager.create()  # the store's first: it also marks the updated index complete
    clock.advance(0.25)
    manager.create("research_session", max_duration=3600, tags=["research", "analysis"])
    clock.advance(1.0)
    manager.create("child", description="a child: notes", tags=["a/b", "50%", "\u00e9"],
                   metadata={"k": [1, 2.5, None], "api_key": "x"},
                   parent_session_id="0190a1b2-c3d4-7e5f-8a9b-000000000001", max_duration=0,
                   max_idle_time=90.5, limits={"tokens": 100, "max_cost": 1.5})
    clock.advance(1.0)
    manager.create("token=sk-abcdefghijklmnopqrstuvwxyz012345",
                   tags=["password: hunter2", "plain"], save=True)
    # The same name and tags again: what was judged plain or secret is judged the same.
    manager.create("token=sk-abcdefghijklmnopqrstuvwxyz012345",
                   tags=["password: hunter2", "plain"])
    manager.create("research_session", max_duration=3600, tags=["research", "analysis"])
    return seen


def test_create_writes_the_same_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _creates(monkeypatch) == EXPECTED


EXPECTED: list[Batch] = [([('session/0190a1b2-c3d4-7e5f-8a9b-000000000001',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000001","name":"","status":"active","created_at":17'
    b'54000000.123456,"updated_at":1754000000.123456,"description":"","tags":[],"metadata":{},'
    b'"parent_session_id":null,"started_at":1754000000.123456,"ended_at":null,"max_duration":n'
    b'ull,"max_idle_time":null,"limits":{"operations":null,"tokens":null,"cost":null,"artifact'
    b's":null,"artifact_bytes":null,"memory":null},"counters":{"operations":0,"artifacts":0,"t'
    b'okens":0,"cost":0.0,"artifact_bytes":0},"last_activity_at":1754000000.123456,"active_sec'
    b'onds":0.0,"resumed_at":1754000000.123456,"reason":null}'),
   ('sessidx/status/active/1754000000123456/0190a1b2-c3d4-7e5f-8a9b-000000000001', b''),
   ('sessidx/updated/active/1754000000123456/0190a1b2-c3d4-7e5f-8a9b-000000000001', b''),
   ('sessmeta/updated_index', b'1'),
   ('sessmeta/active_count', b'1'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000001/000000000001',
    b'{"seq":1,"ts":1754000000.123456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000001","data":{"name":"","tags":[],"parent_session_id":null,"max_duration":null,"max_'
    b'idle_time":null}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000001/000000000001': None,
   'sessmeta/active_count': None}),
 ([('session/0190a1b2-c3d4-7e5f-8a9b-000000000002',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000002","name":"research_session","status":"active"'
    b',"created_at":1754000000.373456,"updated_at":1754000000.373456,"description":"","tags":['
    b'"research","analysis"],"metadata":{},"parent_session_id":null,"started_at":1754000000.37'
    b'3456,"ended_at":null,"max_duration":3600.0,"max_idle_time":null,"limits":{"operations":n'
    b'ull,"tokens":null,"cost":null,"artifacts":null,"artifact_bytes":null,"memory":null},"cou'
    b'nters":{"operations":0,"artifacts":0,"tokens":0,"cost":0.0,"artifact_bytes":0},"last_act'
    b'ivity_at":1754000000.373456,"active_seconds":0.0,"resumed_at":1754000000.373456,"reason"'
    b':null}'),
   ('sessidx/status/active/1754000000373456/0190a1b2-c3d4-7e5f-8a9b-000000000002', b''),
   ('sessidx/tag/research/1754000000373456/0190a1b2-c3d4-7e5f-8a9b-000000000002', b''),
   ('sessidx/tag/analysis/1754000000373456/0190a1b2-c3d4-7e5f-8a9b-000000000002', b''),
   ('sessidx/updated/active/1754000000373456/0190a1b2-c3d4-7e5f-8a9b-000000000002', b''),
   ('sessmeta/active_count', b'2'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000002/000000000001',
    b'{"seq":1,"ts":1754000000.373456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000002","data":{"name":"research_session","tags":["research","analysis"],"parent_sessi'
    b'on_id":null,"max_duration":3600.0,"max_idle_time":null}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000002/000000000001': None,
   'sessmeta/active_count': b'1'}),
 ([('session/0190a1b2-c3d4-7e5f-8a9b-000000000003',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000003","name":"child","status":"active","created_a'
    b't":1754000001.373456,"updated_at":1754000001.373456,"description":"a child: notes","tags'
    b'":["a/b","50%","\xc3\xa9"],"metadata":{"k":[1,2.5,null],"api_key":"x"},"parent_session'
    b'_id":"0190a1b2-c3d4-7e5f-8a9b-000000000001","started_at":1754000001.373456,"ended_at":nu'
    b'll,"max_duration":null,"max_idle_time":90.5,"limits":{"operations":null,"tokens":100,"co'
    b'st":1.5,"artifacts":null,"artifact_bytes":null,"memory":null},"counters":{"operations":0'
    b',"artifacts":0,"tokens":0,"cost":0.0,"artifact_bytes":0},"last_activity_at":1754000001.3'
    b'73456,"active_seconds":0.0,"resumed_at":1754000001.373456,"reason":null}'),
   ('sessidx/status/active/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003', b''),
   ('sessidx/tag/a%2Fb/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003', b''),
   ('sessidx/tag/50%25/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003', b''),
   ('sessidx/tag/é/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003', b''),
   ('sessidx/parent/0190a1b2-c3d4-7e5f-8a9b-000000000001/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003',
    b''),
   ('sessidx/updated/active/1754000001373456/0190a1b2-c3d4-7e5f-8a9b-000000000003', b''),
   ('sessmeta/active_count', b'3'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000003/000000000001',
    b'{"seq":1,"ts":1754000001.373456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000003","data":{"name":"child","tags":["a/b","50%","\xc3\xa9"],"parent_session_id":"'
    b'0190a1b2-c3d4-7e5f-8a9b-000000000001","max_duration":null,"max_idle_time":90.5,"descript'
    b'ion":"a child: notes","metadata":{"k":[1,2.5,null],"api_key":"[REDACTED]"},"limits":{"op'
    b'erations":null,"tokens":100,"cost":1.5,"artifacts":null,"artifact_bytes":null,"memory":n'
    b'ull}}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000003/000000000001': None,
   'sessmeta/active_count': b'2'}),
 ([('session/0190a1b2-c3d4-7e5f-8a9b-000000000004',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000004","name":"token=sk-abcdefghijklmnopqrstuvwxyz'
    b'012345","status":"active","created_at":1754000002.373456,"updated_at":1754000002.373456,'
    b'"description":"","tags":["password: hunter2","plain"],"metadata":{},"parent_session_id":'
    b'null,"started_at":1754000002.373456,"ended_at":null,"max_duration":null,"max_idle_time":'
    b'null,"limits":{"operations":null,"tokens":null,"cost":null,"artifacts":null,"artifact_by'
    b'tes":null,"memory":null},"counters":{"operations":0,"artifacts":0,"tokens":0,"cost":0.0,'
    b'"artifact_bytes":0},"last_activity_at":1754000002.373456,"active_seconds":0.0,"resumed_a'
    b't":1754000002.373456,"reason":null}'),
   ('sessidx/status/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000004', b''),
   ('sessidx/tag/password: hunter2/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000004',
    b''),
   ('sessidx/tag/plain/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000004', b''),
   ('sessidx/updated/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000004', b''),
   ('sessmeta/active_count', b'4'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000004/000000000001',
    b'{"seq":1,"ts":1754000002.373456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000004","data":{"name":"token=[REDACTED]","tags":["password: [REDACTED]","plain"],"par'
    b'ent_session_id":null,"max_duration":null,"max_idle_time":null}}'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000004/000000000002',
    b'{"seq":2,"ts":1754000002.373456,"kind":"session.saved","cid":"00000000000000000000000000'
    b'000004","data":{"status":"active"}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000004/000000000001': None,
   'sessmeta/active_count': b'3'}),
 ([('session/0190a1b2-c3d4-7e5f-8a9b-000000000005',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000005","name":"token=sk-abcdefghijklmnopqrstuvwxyz'
    b'012345","status":"active","created_at":1754000002.373456,"updated_at":1754000002.373456,'
    b'"description":"","tags":["password: hunter2","plain"],"metadata":{},"parent_session_id":'
    b'null,"started_at":1754000002.373456,"ended_at":null,"max_duration":null,"max_idle_time":'
    b'null,"limits":{"operations":null,"tokens":null,"cost":null,"artifacts":null,"artifact_by'
    b'tes":null,"memory":null},"counters":{"operations":0,"artifacts":0,"tokens":0,"cost":0.0,'
    b'"artifact_bytes":0},"last_activity_at":1754000002.373456,"active_seconds":0.0,"resumed_a'
    b't":1754000002.373456,"reason":null}'),
   ('sessidx/status/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000005', b''),
   ('sessidx/tag/password: hunter2/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000005',
    b''),
   ('sessidx/tag/plain/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000005', b''),
   ('sessidx/updated/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000005', b''),
   ('sessmeta/active_count', b'5'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000005/000000000001',
    b'{"seq":1,"ts":1754000002.373456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000005","data":{"name":"token=[REDACTED]","tags":["password: [REDACTED]","plain"],"par'
    b'ent_session_id":null,"max_duration":null,"max_idle_time":null}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000005/000000000001': None,
   'sessmeta/active_count': b'4'}),
 ([('session/0190a1b2-c3d4-7e5f-8a9b-000000000006',
    b'{"id":"0190a1b2-c3d4-7e5f-8a9b-000000000006","name":"research_session","status":"active"'
    b',"created_at":1754000002.373456,"updated_at":1754000002.373456,"description":"","tags":['
    b'"research","analysis"],"metadata":{},"parent_session_id":null,"started_at":1754000002.37'
    b'3456,"ended_at":null,"max_duration":3600.0,"max_idle_time":null,"limits":{"operations":n'
    b'ull,"tokens":null,"cost":null,"artifacts":null,"artifact_bytes":null,"memory":null},"cou'
    b'nters":{"operations":0,"artifacts":0,"tokens":0,"cost":0.0,"artifact_bytes":0},"last_act'
    b'ivity_at":1754000002.373456,"active_seconds":0.0,"resumed_at":1754000002.373456,"reason"'
    b':null}'),
   ('sessidx/status/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000006', b''),
   ('sessidx/tag/research/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000006', b''),
   ('sessidx/tag/analysis/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000006', b''),
   ('sessidx/updated/active/1754000002373456/0190a1b2-c3d4-7e5f-8a9b-000000000006', b''),
   ('sessmeta/active_count', b'6'),
   ('journal/0190a1b2-c3d4-7e5f-8a9b-000000000006/000000000001',
    b'{"seq":1,"ts":1754000002.373456,"kind":"session.created","cid":"000000000000000000000000'
    b'00000006","data":{"name":"research_session","tags":["research","analysis"],"parent_sessi'
    b'on_id":null,"max_duration":3600.0,"max_idle_time":null}}')],
  {'journal/0190a1b2-c3d4-7e5f-8a9b-000000000006/000000000001': None,
   'sessmeta/active_count': b'5'})]
