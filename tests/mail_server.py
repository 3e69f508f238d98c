"""A local SMTP server and a local webhook receiver for the notification tests: real
servers on loopback ports, speaking SMTP (RFC 5321: EHLO, MAIL, RCPT, DATA, QUIT; no TLS,
no auth) and HTTP, keeping what they receive."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer


@dataclass
class Received:
    mails: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)


class _Smtp(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        received: Received = self.server.received  # type: ignore[attr-defined]
        self.reply("220 localhost test SMTP")
        sender, to = "", []
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, to = command.split(":", 1)[1].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                to.append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                data = []
                while (part := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    data.append(part[1:] if part.startswith(b"..") else part)
                received.mails.append(
                    email.message_from_bytes(b"".join(data), policy=email.policy.default)
                )
                received.envelopes.append((sender, to))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 not implemented")


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.received.posts.append(  # type: ignore[attr-defined]
            {"path": self.path, "json": json.loads(body or b"null")}
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
        return


class _ThreadedTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def local_servers() -> Iterator[tuple[int, int, Received]]:
    """(SMTP port, webhook port, what both received), served until the block ends."""
    received = Received()
    smtp = _ThreadedTcp(("127.0.0.1", 0), _Smtp)
    hook = HTTPServer(("127.0.0.1", 0), _Hook)
    smtp.received = hook.received = received  # type: ignore[attr-defined]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (smtp, hook)]
    for thread in threads:
        thread.start()
    try:
        yield smtp.server_address[1], hook.server_address[1], received
    finally:
        for server in (smtp, hook):
            server.shutdown()
            server.server_close()
