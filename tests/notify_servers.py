"""Real servers on loopback that receive what the outbox sends: an SMTP server (aiosmtpd) and an HTTP
server for JSON webhooks. Each keeps what it received, decoded, for the test to read."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mail:
    to: list[str]
    subject: str
    text: str


class _Collect:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's hook
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain", "html"))
        self.mails.append(Mail(list(envelope.rcpt_tos), str(msg["subject"]), body.get_content() if body else ""))
        return "250 OK"


class SMTPServer:
    """A plain SMTP server (no TLS, no login) on 127.0.0.1; `mails` holds what it received."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def mails(self) -> list[Mail]:
        return self._handler.mails

    def url(self, to: str) -> str:
        """An apprise URL that mails `to` through this server, in the clear (mode=insecure)."""
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=tongji@example.cn&to={to}"

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@dataclass
class Hook:
    path: str
    payload: dict


@dataclass
class WebhookServer:
    """An HTTP server on 127.0.0.1 that records each JSON POST (path and payload) and answers 200."""

    port: int = 0
    hooks: list[Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> WebhookServer:
        hooks = self.hooks

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hooks.append(Hook(self.path, json.loads(data.decode("utf-8"))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
