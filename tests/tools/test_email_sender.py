"""email-sender against a small SMTP server the tests start on 127.0.0.1 (socketserver): the
message arrives with the right headers and body; addresses, header injection, the network rule
and the server's refusals are reported."""

from __future__ import annotations

import base64
import email
import email.policy
import shutil
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from llmspell.errors import SecurityViolation, ToolError, ValidationError

USER, PASSWORD = "mailer", "pw-for-the-smtp-test-42"


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA,
    QUIT; with ``tls`` set, STARTTLS is offered, or (``implicit``) TLS starts at once."""

    received: ClassVar[list[dict[str, Any]]] = []
    require_auth = False
    tls: ClassVar[ssl.SSLContext | None] = None
    implicit = False

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def _start_tls(self) -> bool:
        assert self.tls is not None
        try:
            self.connection = self.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return False  # the client refused the certificate
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")
        return True

    def finish(self) -> None:
        super().finish()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.close()

    def handle(self) -> None:
        if self.tls is not None and self.implicit and not self._start_tls():
            return
        self._say("220 test.local ESMTP")
        sender, rcpts, authed = None, [], False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-test.local")
                if self.tls is not None and not self.implicit and not isinstance(
                        self.connection, ssl.SSLSocket):
                    self._say("250-STARTTLS")
                self._say("250-AUTH PLAIN")
                self._say("250 8BITMIME")
            elif verb == "HELO":
                self._say("250 test.local")
            elif verb == "AUTH":
                parts = line.split(" ")
                blob = parts[2] if len(parts) > 2 else None
                if blob is None:
                    self._say("334 ")
                    blob = self.rfile.readline().decode().strip()
                _, user, password = base64.b64decode(blob).decode().split("\0")
                authed = (user, password) == (USER, PASSWORD)
                self._say("235 ok" if authed else "535 bad credentials")
            elif verb == "MAIL":
                if type(self).require_auth and not authed:
                    self._say("530 authentication required")
                    continue
                sender, rcpts = line[10:].strip("<>"), []
                self._say("250 ok")
            elif verb == "RCPT":
                address = line[8:].strip("<>")
                if address.endswith("@nowhere.test"):
                    self._say("550 no such user")
                else:
                    rcpts.append(address)
                    self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go ahead")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                type(self).received.append({"from": sender, "to": rcpts,
                                            "data": b"".join(data)})
                self._say("250 queued")
            elif verb == "STARTTLS":
                self._say("220 ready")
                if not self._start_tls():
                    return
            elif verb == "RSET":
                self._say("250 ok")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")


@pytest.fixture
def smtp() -> Iterator[int]:
    _Smtp.received, _Smtp.require_auth, _Smtp.tls, _Smtp.implicit = [], False, None, False
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    # polled every 20 ms: shutdown() waits up to one poll (the default is 0.5 s)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _mailer(make_rt: Any, port: int, **extra: Any) -> Any:
    extra.setdefault("runtime__security__allow_network_access", True)
    extra.setdefault("runtime__security__allowed_hosts", ["127.0.0.1"])
    extra.setdefault("tools__email__security", "none")
    return make_rt(tools__email__smtp_host="127.0.0.1", tools__email__smtp_port=port, **extra)


def test_the_message_arrives_with_its_headers_and_body(make_rt: Any, smtp: int) -> None:
    rt = _mailer(make_rt, smtp)
    out = rt.tools.invoke("email-sender", {
        "from": "Ann <ann@example.org>", "to": ["bob@example.org", "cy@example.org"],
        "cc": "dee@example.org", "bcc": "eve@example.org", "subject": "Report ready",
        "body": "The report is attached.\n.\nBye"}).result
    assert out["status"] == "sent" and out["provider"] == "smtp" and out["refused"] == []
    assert out["recipients"] == ["bob@example.org", "cy@example.org", "dee@example.org",
                                 "eve@example.org"]
    got = _Smtp.received[-1]
    assert got["from"] == "ann@example.org" and got["to"] == out["recipients"]
    message = email.message_from_bytes(got["data"], policy=email.policy.default)
    assert message["From"] == "Ann <ann@example.org>"
    assert message["To"] == "bob@example.org, cy@example.org" and message["Cc"] == "dee@example.org"
    assert message["Bcc"] is None  # blind copies are not shown to the others
    assert message["Subject"] == "Report ready" and message["Message-ID"] == out["message_id"]
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "The report is attached.\n.\nBye\n"


def test_html_default_sender_and_login(make_rt: Any, smtp: int,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_SMTP_USER", USER)
    monkeypatch.setenv("LLMSPELL_TEST_SMTP_PASSWORD", PASSWORD)
    _Smtp.require_auth = True
    rt = _mailer(make_rt, smtp, tools__email__default_sender="bot@example.org",
                 tools__email__username_env="LLMSPELL_TEST_SMTP_USER",
                 tools__email__password_env="LLMSPELL_TEST_SMTP_PASSWORD")
    session = rt.sessions.create(name="mail").id
    rt.tools.invoke("email-sender", {"to": "bob@example.org", "subject": "Hi",
                                     "body": "<p>Hello</p>", "html": True}, session_id=session)
    message = email.message_from_bytes(_Smtp.received[-1]["data"], policy=email.policy.default)
    assert message["From"] == "bot@example.org" and message.get_content_type() == "text/html"
    entries = rt.sessions.journal.read(session, kinds="tool.call")
    assert entries[0].data["result"]["success"] and PASSWORD not in str(entries[0].data)
    monkeypatch.setenv("LLMSPELL_TEST_SMTP_PASSWORD", "wrong")
    with pytest.raises(ToolError, match=r"refused the login \(535\).*password_env"):
        rt.tools.invoke("email-sender", {"to": "bob@example.org", "subject": "Hi", "body": "x"})


@pytest.mark.parametrize(("params", "path", "rule"), [
    ({"to": "not-an-address"}, "$.to", "one email address"),
    ({"to": "a@b.org, c@d.org"}, "$.to", "one email address"),
    ({"to": ["ok@b.org", "bad@"]}, "$.to[1]", "one email address"),
    ({"to": "a@b.org\r\nBcc: victim@x.org"}, "$.to", "header injection"),
    ({"subject": "Hi\r\nBcc: victim@x.org"}, "$.subject", "header injection"),
    ({"from": "x@y.org\nX-Evil: 1"}, "$.from", "header injection"),
    ({"from": ""}, "$.from", "default_sender"),
])
def test_bad_addresses_and_header_injection_are_refused(make_rt: Any, smtp: int,
                                                        params: dict[str, Any], path: str,
                                                        rule: str) -> None:
    rt = _mailer(make_rt, smtp)
    call = {"from": "ann@example.org", "to": "bob@example.org", "subject": "s", "body": "b",
            **params}
    with pytest.raises(ValidationError, match=rule) as info:
        rt.tools.invoke("email-sender", call)
    assert info.value.path == path and _Smtp.received == []


@pytest.mark.slow
def test_network_host_starttls_and_recipient_refusals(make_rt: Any, smtp: int) -> None:
    call = {"from": "ann@example.org", "to": "bob@example.org", "subject": "s", "body": "b"}
    with pytest.raises(SecurityViolation, match="allow_network_access = false"):
        _mailer(make_rt, smtp, runtime__security__allow_network_access=False).tools.invoke(
            "email-sender", call)
    with pytest.raises(SecurityViolation, match=r"'smtp_host': host '127.0.0.1' is not in"):
        _mailer(make_rt, smtp, runtime__security__allowed_hosts=["mail.example.org"]
                ).tools.invoke("email-sender", call)
    with pytest.raises(ToolError, match=r"does not offer STARTTLS.*security"):
        _mailer(make_rt, smtp, tools__email__security="starttls").tools.invoke(
            "email-sender", call)
    with pytest.raises(ToolError, match=r"refused every recipient: x@nowhere.test"):
        _mailer(make_rt, smtp).tools.invoke("email-sender", {**call, "to": "x@nowhere.test"})
    partial = _mailer(make_rt, smtp).tools.invoke(
        "email-sender", {**call, "to": ["x@nowhere.test", "bob@example.org"]}).result
    assert partial["refused"] == ["x@nowhere.test"]
    assert partial["recipients"] == ["bob@example.org"]
    assert _Smtp.received[-1]["to"] == ["bob@example.org"]


def test_without_a_server_it_is_unavailable(rt: Any) -> None:
    info = rt.tools.get("email-sender").info()
    assert not info["available"] and "smtp_host" in info["unavailable_reason"]


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 that the client's
    default context trusts (SSL_CERT_FILE names it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed here")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server


@pytest.mark.slow
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_by_starttls_or_from_the_start(make_rt: Any, smtp: int,
                                           certificate: ssl.SSLContext, security: str) -> None:
    _Smtp.tls, _Smtp.implicit = certificate, security == "ssl"
    rt = _mailer(make_rt, smtp, tools__email__security=security)
    out = rt.tools.invoke("email-sender", {"from": "ann@example.org", "to": "bob@example.org",
                                           "subject": "over TLS", "body": "sealed"}).result
    assert out["status"] == "sent" and _Smtp.received[-1]["to"] == ["bob@example.org"]


@pytest.mark.slow
def test_an_untrusted_certificate_is_refused(make_rt: Any, smtp: int,
                                             certificate: ssl.SSLContext,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    (tmp_path / "none.pem").write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    _Smtp.tls = certificate
    rt = _mailer(make_rt, smtp, tools__email__security="starttls")
    with pytest.raises(ToolError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        rt.tools.invoke("email-sender", {"from": "ann@example.org", "to": "bob@example.org",
                                         "subject": "s", "body": "b"})
    assert _Smtp.received == []


def test_a_zero_smtp_timeout_is_a_config_error(make_rt: Any) -> None:
    # smtplib takes 0 as "do not wait at all": every send would fail on connect
    from llmspell.errors import ConfigError

    with pytest.raises(ConfigError, match="timeout_seconds"):
        make_rt(tools__email__smtp_host="127.0.0.1", tools__email__timeout_seconds=0)
