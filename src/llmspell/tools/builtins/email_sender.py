"""``email-sender``: one message through the SMTP server of ``[tools.email]`` (smtplib).

The server, its port, the protection (``starttls``, ``ssl`` or ``none``), and the names of the
environment variables holding the login are settings, never parameters: a model choosing the
arguments cannot point the tool at another server or see the password. The server's host goes
through the network rule (:func:`llmspell.tools.network.check_host`: ``allow_network_access``
and ``allowed_hosts``). Addresses are checked (one ``local@domain`` each, no display-name
tricks), and a CR or LF in any header value is refused (header injection).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import ToolContext
from llmspell.tools.builtins.support import ConfiguredTool
from llmspell.tools.network import check_host

SETTINGS_TABLE = "[tools.email]"
#: One address as a mailbox's ``local@domain`` (no spaces, quotes, brackets or commas).
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                      r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_ADDRESSES = {"oneOf": [{"type": "string", "minLength": 3},
                        {"type": "array", "items": {"type": "string", "minLength": 3},
                         "minItems": 1, "maxItems": 100}]}


@dataclass(frozen=True)
class EmailSettings:
    """``[tools.email]``."""

    smtp_host: str = ""
    smtp_port: int = 0
    security: str = "starttls"
    username_env: str = ""
    password_env: str = ""
    default_sender: str = ""
    timeout_seconds: float = 30.0

    @property
    def port(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587}.get(self.security, 25)


def check_address(value: Any, argument: str) -> str:
    """``value`` if it is one plain address (``a@b.c`` or ``Name <a@b.c>``); else
    ValidationError naming ``argument`` (CR/LF, several addresses, a bad domain...)."""
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ValidationError("params", "must be one email address on one line (CR and LF "
                              "are refused: header injection)", path=f"$.{argument}", got=value)
    _name, address = parseaddr(value)
    if not _ADDRESS.fullmatch(address) or value.count("@") != 1:
        raise ValidationError("params", "must be one email address (local@domain.tld)",
                              path=f"$.{argument}", got=value)
    return value.strip()


def _one_line(value: str, argument: str) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValidationError("params", "must be one line (CR, LF and NUL are refused: header "
                              "injection)", path=f"$.{argument}", got=value)
    return value


class EmailSender(ConfiguredTool):
    name = "email-sender"
    description = ("Send an email (plain text or HTML) through the SMTP server configured in "
                   "[tools.email]; off unless [runtime.security] allow_network_access")
    category = "api"
    security_level = "restricted"
    capabilities = ("network", "email", "smtp")
    timeout = 125.0
    parameters = {
        "type": "object",
        "properties": {
            "from": {"type": "string", "description": "sender (default: [tools.email] "
                                                      "default_sender)"},
            "to": {**_ADDRESSES, "description": "recipient, or a list of them"},
            "cc": _ADDRESSES,
            "bcc": _ADDRESSES,
            "reply_to": {"type": "string"},
            "subject": {"type": "string", "maxLength": 998},
            "body": {"type": "string", "maxLength": 10 * 1024 * 1024},
            "html": {"type": "boolean", "default": False},
            "provider": {"enum": ["smtp"], "default": "smtp",
                         "description": "only smtp (rs-llmspell's sendgrid and ses are not "
                                        "offered)"},
        },
        "required": ["to", "subject", "body"],
        "additionalProperties": False,
    }

    Settings = EmailSettings
    TABLE = "tools.email"
    settings: EmailSettings

    def available(self) -> str | None:
        if not self.settings.smtp_host:
            return f"no SMTP server is configured: set {SETTINGS_TABLE} smtp_host"
        return None

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        settings = self.settings
        sender = params.get("from") or settings.default_sender
        if not sender:
            raise ValidationError("params", f"give 'from' or set {SETTINGS_TABLE} "
                                  "default_sender", path="$.from")
        message = EmailMessage()
        message["From"] = check_address(sender, "from")
        recipients: list[str] = []
        for field, header in (("to", "To"), ("cc", "Cc"), ("bcc", None)):
            given = params.get(field)
            if given is None:
                continue
            listed = [given] if isinstance(given, str) else given
            checked = [check_address(item, f"{field}" if isinstance(given, str)
                                     else f"{field}[{i}]") for i, item in enumerate(listed)]
            recipients.extend(parseaddr(item)[1] for item in checked)
            if header is not None:
                message[header] = ", ".join(checked)
        if "reply_to" in params:
            message["Reply-To"] = check_address(params["reply_to"], "reply_to")
        message["Subject"] = _one_line(params["subject"], "subject")
        message["Date"] = formatdate(usegmt=True)
        domain = parseaddr(sender)[1].rpartition("@")[2]
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(params["body"], subtype="html" if params.get("html") else "plain")
        check_host(settings.smtp_host, ctx.security, tool=self.name, argument="smtp_host")
        refused = self._send(message, parseaddr(sender)[1], recipients)
        return {"provider": "smtp", "status": "sent", "message_id": message["Message-ID"],
                "recipients": [r for r in recipients if r not in refused],
                "refused": sorted(refused), "timestamp": message["Date"]}

    def _send(self, message: EmailMessage, sender: str, recipients: list[str]) -> dict[str, Any]:
        settings = self.settings
        user = _variable(settings.username_env, "username_env")
        password = _variable(settings.password_env, "password_env")
        where = f"{settings.smtp_host}:{settings.port}"
        try:
            if settings.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.smtp_host, settings.port, timeout=settings.timeout_seconds,
                    context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(settings.smtp_host, settings.port,
                                      timeout=settings.timeout_seconds)
            with client:
                if settings.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if user is not None:
                    client.login(user, password or "")
                return client.send_message(message, sender, recipients)
        except smtplib.SMTPNotSupportedError as exc:
            raise ToolError(f"email-sender: {where} does not offer STARTTLS ({exc}); set "
                            f"{SETTINGS_TABLE} security to 'ssl' or 'none'") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise ToolError(f"email-sender: {where} refused the login "
                            f"({exc.smtp_code}); check {SETTINGS_TABLE} username_env and "
                            "password_env") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise ToolError(f"email-sender: {where} refused every recipient: "
                            f"{', '.join(sorted(exc.recipients))}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ToolError(f"email-sender: sending through {where} failed: {exc}") from None


def _variable(name: str, setting: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ToolError(f"email-sender: the environment variable {name} "
                                f"({SETTINGS_TABLE} {setting}) is not set")
    return value


__all__ = ["EmailSender", "EmailSettings", "check_address"]
