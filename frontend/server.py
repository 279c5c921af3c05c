"""The web page's own static-file server (standard library only): the files of frontend/ on a
loopback port, ``/config.json`` telling the page where TorchServe's inference API is (and its
upload limit, TorchServe's max_request_size), and
``/models.json``: the models served, as ``make archive`` described them (model_store/NAME.json:
task, scale, parameters, styles), kept to the ones TorchServe's management API lists. The page
itself never calls the management API; this server reads its model list on loopback.

    python frontend/server.py --port 8090 --api http://127.0.0.1:8080 \
        --model-store model_store --management http://127.0.0.1:8081

It serves a fixed list of files read at start (nothing outside frontend/ can be named), answers
GET and HEAD only, gives every client error a JSON body, closes idle or slow connections after
``--timeout`` seconds, holds at most ``--max-connections`` at once, and sends no version header.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
import socket
import sys
import threading
import time
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
SERVED_SUFFIXES = {".html", ".js", ".css", ".jpg", ".png", ".svg", ".ico", ".webp"}
# Types that must not depend on the host's mime.types (or Windows registry): a browser runs the
# page's JavaScript modules only when they come as JavaScript.
FIXED_TYPES = {".js": "text/javascript"}
MAX_PATH = 256  # characters of a request target; longer is a 414
MAX_MODELS = 64  # model notes listed at most
MAX_NOTE_BYTES = 16_384  # a model_store/NAME.json larger than this is skipped
MODELS_TTL_S = 5.0  # /models.json is rebuilt at most this often
MANAGEMENT_TIMEOUT_S = 2.0
MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


# Stable codes of this server's error replies, the words of dronesr/errors.py (this file stands alone:
# the page's server needs no package installed)
ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 501: "method_not_allowed", 408: "timeout", 413: "too_large", 414: "too_large", 431: "too_large"}


class ModelList:
    """The served models for /models.json: notes from the model store, filtered by the
    management API's list when it answers (else all notes, ``"checked": false``)."""

    def __init__(self, store: Path | None, management: str | None):
        self.store, self.management = store, (management or "").rstrip("/")
        self.lock = threading.Lock()
        self.cached: tuple[float, bytes] | None = None

    def notes(self) -> list[dict]:
        notes = []
        for path in sorted(self.store.glob("*.json"))[:MAX_MODELS] if self.store and self.store.is_dir() else []:
            try:
                if path.stat().st_size > MAX_NOTE_BYTES:
                    continue
                note = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(note, dict) and MODEL_NAME.fullmatch(str(note.get("name", ""))) and note["name"] == path.stem:
                notes.append(note)
        return notes

    def served(self) -> set[str] | None:
        if not self.management:
            return None
        try:
            with urllib.request.urlopen(f"{self.management}/models?limit={MAX_MODELS}", timeout=MANAGEMENT_TIMEOUT_S) as reply:
                listed = json.loads(reply.read(1_000_000))
            return {m["modelName"] for m in listed.get("models", []) if isinstance(m, dict) and "modelName" in m}
        except (OSError, ValueError, AttributeError):
            return None

    def body(self) -> bytes:
        with self.lock:
            if self.cached and time.monotonic() - self.cached[0] < MODELS_TTL_S:
                return self.cached[1]
            served = self.served()
            models = [note for note in self.notes() if served is None or note["name"] in served]
            body = json.dumps({"models": models, "checked": served is not None}).encode()
            self.cached = (time.monotonic(), body)
            return body


def page_files(root: Path = HERE) -> dict[str, tuple[bytes, str]]:
    """URL path -> (bytes, Content-Type) for every page file under ``root``, read once."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in SERVED_SUFFIXES:
            url = "/" + path.relative_to(root).as_posix()
            ctype = FIXED_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files[url] = (path.read_bytes(), ctype + ("; charset=utf-8" if ctype.startswith("text/") or ctype.endswith("javascript") else ""))
    files["/"] = files["/index.html"]
    return files


class PageHandler(BaseHTTPRequestHandler):
    server_version = "dronesr-page"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    files: dict[str, tuple[bytes, str]] = {}
    models: ModelList

    def version_string(self) -> str:
        return self.server_version  # no Python or library version in the Server header

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard signature
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    # --- replies ----------------------------------------------------------------------------
    def reply(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error this server produces itself, JSON (the standard library's is HTML)."""
        status = HTTPStatus(code)
        body = json.dumps({
            "code": ERROR_CODES.get(code, "bad_request" if code < 500 else "server_error"), "status": code,
            "type": status.phrase, "message": message or status.description,
        }).encode()
        try:
            self.reply(code, body, "application/json", head=self.command == "HEAD")
        except OSError:
            self.close_connection = True

    # --- methods ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - the standard library's naming
        self.serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.serve(head=True)

    def not_allowed(self) -> None:
        self.send_error(405, "This server only serves the page: GET or HEAD.")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = not_allowed  # noqa: N815

    def serve(self, head: bool) -> None:
        if len(self.path) > MAX_PATH:
            self.send_error(414, f"The request target is longer than {MAX_PATH} characters.")
            return
        path = urlsplit(self.path).path
        if path == "/models.json":
            self.reply(200, self.models.body(), "application/json", head)
            return
        entry = self.files.get(path)
        if entry is None:
            self.send_error(404, "No such page file.")
            return
        body, ctype = entry
        self.reply(200, body, ctype, head)


class PageServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once (more wait in the kernel's
    listen queue), each with a socket timeout so a slow or silent client cannot hold one."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int, timeout: float):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)
        self.connection_timeout = timeout

    def process_request(self, request: socket.socket, client_address) -> None:
        self.slots.acquire()
        request.settimeout(self.connection_timeout)
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        pass  # a client that vanished or timed out; nothing to report, nothing to answer


def make_server(
    host: str, port: int, api: str, max_connections: int = 32, timeout: float = 10.0, model_store: Path | None = None,
    management: str | None = None, max_upload_bytes: int | None = None,
) -> PageServer:
    files = page_files()
    config = {"api": api.rstrip("/"), "max_upload_bytes": max_upload_bytes}
    files["/config.json"] = (json.dumps(config).encode(), "application/json")
    handler = type("Handler", (PageHandler,), {"files": files, "models": ModelList(model_store, management)})
    return PageServer((host, port), handler, max_connections, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument("--port", type=int, default=8090, help="port (default: %(default)s; TorchServe's cors_allowed_origin names it)")
    parser.add_argument("--api", default="http://127.0.0.1:8080", help="TorchServe inference address the page calls (default: %(default)s)")
    parser.add_argument("--model-store", type=Path, help="the folder of .mar archives and their NAME.json notes (make archive); the page lists these models")
    parser.add_argument("--management", help="TorchServe management address on loopback, to list only the models it serves (default: all notes)")
    parser.add_argument("--max-upload-bytes", type=int, help="TorchServe's max_request_size, which the page warns by (default: none)")
    parser.add_argument("--max-connections", type=int, default=32, help="connections served at once (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a connection may stay idle or slow (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.host, args.port, args.api, args.max_connections, args.timeout, args.model_store, args.management, args.max_upload_bytes)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"page on http://{args.host}:{args.port}/ (API {args.api})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
