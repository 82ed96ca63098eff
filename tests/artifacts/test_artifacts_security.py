"""storeFile's confinement to the allowed roots (a test per escape), and permissions between
sessions: refused by default, granted, revoked, audited in the journal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmspell.errors import SecurityViolation, SessionNotFound, ValidationError
from llmspell.events import capture_events
from llmspell.runtime import Runtime
from llmspell.sessions import Session


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret")
    return secret


def test_a_file_under_a_root_is_stored(rt: Runtime, session: Session, files: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (files / "reports").mkdir()
    report = files / "reports" / "q4.pdf"
    report.write_bytes(b"%PDF-1.4 q4")
    a = rt.artifacts.store_file(session, report, metadata={"description": "Q4 report"})
    assert (a.name, a.mime_type, a.description, a.size) == ("q4.pdf", "application/pdf",
                                                            "Q4 report", 11)
    assert a.custom["source_path"] == str(report.resolve())
    assert rt.artifacts.read(a) == b"%PDF-1.4 q4"
    monkeypatch.chdir(files)  # relative paths are taken from the current directory
    b = rt.artifacts.store_file(session, "reports/q4.pdf", name="again")
    assert b.name == "again" and b.content_hash == a.content_hash


def test_dot_dot_leading_out_is_refused(rt: Runtime, session: Session, files: Path,
                                        outside: Path) -> None:
    sneaky = files / ".." / "outside" / "secret.txt"
    with pytest.raises(SecurityViolation, match=r"storeFile: argument 'path': '.*/files/\.\./"
                       rf"outside/secret.txt' resolves to {outside}, outside the allowed roots"):
        rt.artifacts.store_file(session, str(sneaky))
    assert rt.artifacts.list(session) == []


def test_an_absolute_path_outside_is_refused(rt: Runtime, session: Session,
                                             outside: Path) -> None:
    with pytest.raises(SecurityViolation, match=rf"storeFile: argument 'path': '{outside}' "
                       rf"resolves to {outside}, outside the allowed roots .*files \(symlinks "
                       r"and '\.\.' are followed; add a root to \[runtime\] allowed_paths"):
        rt.artifacts.store_file(session, str(outside))
    with pytest.raises(SecurityViolation, match="'/etc/passwd' resolves to /etc/passwd, "
                       "outside the allowed roots"):
        rt.artifacts.store_file(session, "/etc/passwd")


def test_a_symlink_leading_out_is_refused(rt: Runtime, session: Session, files: Path,
                                          outside: Path) -> None:
    link = files / "innocent.txt"
    link.symlink_to(outside)
    with pytest.raises(SecurityViolation, match=rf"'{link}' resolves to {outside}, outside "
                       "the allowed roots"):
        rt.artifacts.store_file(session, link)


def test_a_symlinked_directory_leading_out_is_refused(rt: Runtime, session: Session,
                                                      files: Path, outside: Path) -> None:
    (files / "docs").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(SecurityViolation, match=r"resolves to .*outside/secret\.txt"):
        rt.artifacts.store_file(session, files / "docs" / "secret.txt")


def test_a_symlink_inside_the_root_is_fine(rt: Runtime, session: Session, files: Path) -> None:
    (files / "real.txt").write_text("real")
    (files / "alias.txt").symlink_to(files / "real.txt")
    assert rt.artifacts.read(rt.artifacts.store_file(session, files / "alias.txt")) == b"real"


def test_not_a_regular_file(rt: Runtime, session: Session, files: Path) -> None:
    with pytest.raises(ValidationError, match=r"must name a regular file; .* is a directory"):
        rt.artifacts.store_file(session, files)
    with pytest.raises(ValidationError, match="no such file"):
        rt.artifacts.store_file(session, files / "missing.txt")
    if hasattr(os, "mkfifo"):
        os.mkfifo(files / "pipe")
        with pytest.raises(ValidationError, match="is not a regular file"):
            rt.artifacts.store_file(session, files / "pipe")


# -- permissions ----------------------------------------------------------------------------


def test_another_session_is_refused_by_default(rt: Runtime) -> None:
    owner, other = rt.sessions.create("owner"), rt.sessions.create("other")
    a = rt.artifacts.store(owner, "private.txt", "mine")
    with pytest.raises(SecurityViolation, match=rf"session {other.id} may not read artifacts "
                       rf"of session {owner.id} \(read {a.id}\): it has granted nothing; the "
                       r"owner can grant it with artifacts.grant"):
        rt.artifacts.read(a.id, as_session=other)
    with rt.sessions.current(other), pytest.raises(SecurityViolation):
        rt.artifacts.get(a.id)  # the current session asks
    with pytest.raises(SecurityViolation, match="may not write"):
        rt.artifacts.store(owner, "x", "y", as_session=other)
    with pytest.raises(SecurityViolation, match="may not write"):
        rt.artifacts.delete(a, as_session=other)
    with pytest.raises(SecurityViolation):
        rt.artifacts.list(owner, as_session=other)
    assert rt.artifacts.read(a.id, as_session=owner) == b"mine"
    assert rt.artifacts.read(a.id, as_session=None) == b"mine"  # the host may


def test_grant_and_revoke(rt: Runtime) -> None:
    owner, reader, writer = (rt.sessions.create(n) for n in ("owner", "reader", "writer"))
    a = rt.artifacts.store(owner, "shared.txt", "v1")
    with capture_events(rt.events, "artifact.*") as events:
        assert rt.artifacts.grant(owner, reader) is None
        assert rt.artifacts.grant(owner, writer, "write") is None
    assert [e.type for e in events] == ["artifact.granted", "artifact.granted"]
    assert rt.artifacts.grants(owner) == {reader.id: "read", writer.id: "write"}

    assert rt.artifacts.read(a.id, as_session=reader) == b"v1"
    with pytest.raises(SecurityViolation, match="it grants only read"):
        rt.artifacts.store(owner, "shared.txt", "v2", as_session=reader)
    v2 = rt.artifacts.store(owner, "shared.txt", "v2", as_session=writer)
    assert v2.session_id == owner.id and v2.created_by == f"session:{writer.id}"
    rt.artifacts.delete(a, as_session=writer)

    assert rt.artifacts.revoke(owner, reader) is True
    assert rt.artifacts.revoke(owner, reader) is False
    with pytest.raises(SecurityViolation):
        rt.artifacts.read(v2.id, as_session=reader)

    journal = rt.sessions.journal.read(owner.id, kinds="artifact")
    assert [e.kind for e in journal] == ["artifact.stored", "artifact.granted",
                                         "artifact.granted", "artifact.stored",
                                         "artifact.deleted", "artifact.revoked"]
    assert journal[1].data == {"grantee": reader.id, "access": "read", "previous": None}
    assert journal[3].data["by_session"] == writer.id
    assert journal[4].data["by_session"] == writer.id
    assert journal[5].data == {"grantee": reader.id, "previous": "read"}


def test_only_the_owner_may_grant(rt: Runtime) -> None:
    owner, other = rt.sessions.create("owner"), rt.sessions.create("other")
    with pytest.raises(SecurityViolation, match=f"session {other.id} may not change who can "
                       f"use the artifacts of session {owner.id}"):
        rt.artifacts.grant(owner, other, as_session=other)
    with pytest.raises(ValidationError, match="must be another session"):
        rt.artifacts.grant(owner, owner)
    with pytest.raises(ValidationError, match="argument 'access': must be 'read' or 'write'"):
        rt.artifacts.grant(owner, other, "admin")
    with pytest.raises(SessionNotFound):
        rt.artifacts.grant(owner, "no-such-session")
    assert rt.artifacts.grants(owner) == {}


def test_a_refusal_fires_security_violation(rt: Runtime) -> None:
    owner, other = rt.sessions.create("owner"), rt.sessions.create("other")
    a = rt.artifacts.store(owner, "x", "y")
    seen = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises(SecurityViolation):
        rt.artifacts.get(a.id, as_session=other)
    assert seen[0]["owner"] == owner.id and seen[0]["session_id"] == other.id
