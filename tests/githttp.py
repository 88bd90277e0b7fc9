"""A smart-HTTP git server for tests: ``git http-backend`` behind a token check.

Serves every bare repository under ``root`` at ``http://127.0.0.1:PORT/<name>``.
Requests need HTTP Basic auth whose password is ``token`` (any user name), else 401 with
``WWW-Authenticate``; ``read_only_token`` may fetch but gets 403 on push, the way GitHub
answers a token without ``contents: write``. Nothing is logged, so a token cannot leak
through the server's own output.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

BACKEND = (
    subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    + "/git-http-backend"
)


@dataclass
class Request:
    """One request as the server saw it (no credentials)."""

    method: str
    path: str
    user: str | None
    status: int


@dataclass
class GitHttpServer:
    """Run with ``with GitHttpServer(root, token=...) as server: server.url("repo.git")``."""

    root: Path
    token: str
    read_only_token: str | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, name: str) -> str:
        """The clone URL of the bare repository ``root/name`` (no credentials in it)."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> GitHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def access(self, authorization: str | None) -> tuple[str | None, str | None]:
        """(user, "write"|"read"|None) for an Authorization header."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None, None
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        if password == self.token:
            return user, "write"
        if self.read_only_token is not None and password == self.read_only_token:
            return user, "read"
        return user, None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def _handler(server: GitHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Silent: test output must not depend on (or leak through) server logs."""

        def _reply(self, status: int, user: str | None, headers: dict[str, str]) -> None:
            server.requests.append(Request(self.command, urlsplit(self.path).path, user, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _serve(self) -> None:
            user, access = server.access(self.headers.get("Authorization"))
            if access is None:
                self._reply(401, user, {"WWW-Authenticate": 'Basic realm="git"'})
                return
            parts = urlsplit(self.path)
            if "git-receive-pack" in (parts.path + parts.query) and access != "write":
                self._reply(403, user, {})
                return
            body = _read_body(self) if self.command == "POST" else b""
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user or "git",
                "REMOTE_ADDR": self.client_address[0],
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            }
            done = subprocess.run([BACKEND], input=body, env=env, capture_output=True, check=False)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status, headers = 200, {}
            for line in head.decode("latin-1").split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers[key] = value.strip()
            server.requests.append(Request(self.command, parts.path, user, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler
