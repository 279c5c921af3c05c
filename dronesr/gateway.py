"""The public front door on 127.0.0.1:8080: the web page and the inference API, one origin.

    python -m dronesr.gateway --port 8080 --upstream http://127.0.0.1:8085

Why it exists (TorchServe 0.12 alone cannot do either):
- TorchServe drops the query string of ``POST /predictions/{model}`` before the handler sees it
  (its frontend passes no query decoder on that route), so ``?format=jpeg`` or ``?style=...``
  would be silently ignored. The gateway forwards each query parameter as an
  ``X-Dronesr-Param-<name>`` header, which the handlers read beside multipart form fields.
- The page and the API share one origin, so the browser needs no CORS and TorchServe's token
  authorization question is settled on loopback (see README "Serving").

It forwards only ``POST /predictions/<model>`` and ``GET /ping``; the management API is never
reachable through it. Bodies are bounded (``--max-body-bytes``), the upstream gets a timeout, and
every error it produces itself is JSON ``{"code", "type", "message"}`` like TorchServe's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import mimetypes
import re
import sys
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PARAM_HEADER_PREFIX = "X-Dronesr-Param-"
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
MODEL_PATH = re.compile(r"^/predictions/([A-Za-z0-9_-]{1,64})/?$")
MAX_PARAMS, MAX_PARAM_CHARS = 16, 256
# Reply headers from TorchServe that mean something to a client.
FORWARDED_REPLY_HEADERS = ("Content-Type", "X-Output-Size", "X-Tiles", "X-Style", "X-Resized-From", "X-Request-Id")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    upstream: str = "http://127.0.0.1:8085"
    frontend: Path = ROOT / "frontend"
    max_body_bytes: int = 33_554_432
    timeout_s: float = 300.0


class GatewayError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def params_to_headers(query: str) -> dict[str, str]:
    """Query string -> X-Dronesr-Param-* headers, refusing anything malformed or unbounded."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_PARAMS)
    headers: dict[str, str] = {}
    for name, value in pairs:
        if not PARAM_NAME.match(name):
            raise GatewayError(400, f"Invalid query parameter name {name[:40]!r}.")
        if len(value) > MAX_PARAM_CHARS or not value.isprintable():
            raise GatewayError(400, f"Query parameter {name!r} is too long or not printable.")
        key = PARAM_HEADER_PREFIX + name
        if key in headers:
            raise GatewayError(400, f"Query parameter {name!r} is given twice.")
        headers[key] = value
    return headers


def upstream_content_type(client_type: str) -> str:
    """Multipart and JSON bodies keep their type; anything else is raw image bytes. curl's
    ``--data-binary`` labels an image ``application/x-www-form-urlencoded``, and TorchServe then
    tries to parse the JPEG as a form and answers 500 ("Bad end of line") before any handler."""
    lowered = client_type.lower()
    if lowered.startswith(("multipart/", "application/json")):
        return client_type
    return "application/octet-stream"


def make_handler(config: GatewayConfig) -> type[BaseHTTPRequestHandler]:
    upstream = urllib.parse.urlsplit(config.upstream)
    frontend = config.frontend.resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and Expect: 100-continue (curl sends it for large uploads)
        server_version = "dronesr-gateway"
        # Headers and body go out in two writes; with Nagle on, the body waits for the client's
        # delayed ACK of the headers (~40 ms on every reply, measured on loopback).
        disable_nagle_algorithm = True

        def log_message(self, fmt: str, *args) -> None:  # one line per request on stderr
            sys.stderr.write("gateway: " + (fmt % args) + "\n")

        # --- replies -----------------------------------------------------------------------
        def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def reply_error(self, status: int, message: str) -> None:
            body = json.dumps({"code": status, "type": "GatewayError", "message": message}).encode()
            self.reply(status, body, {"Content-Type": "application/json"})

        # --- routes ------------------------------------------------------------------------
        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == "/ping":
                return self.forward("GET", "/ping", b"", {})
            self.serve_static(path)

        do_HEAD = do_GET

        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            try:
                match = MODEL_PATH.match(url.path)
                if not match:
                    raise GatewayError(404, "Not found: POST /predictions/<model> is the inference API.")
                headers = params_to_headers(url.query)
                body = self.read_body()
            except GatewayError as exc:
                self.close_connection = True
                return self.reply_error(exc.status, exc.message)
            headers["Content-Type"] = upstream_content_type(self.headers.get("Content-Type", ""))
            self.forward("POST", f"/predictions/{match.group(1)}", body, headers)

        def read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                raise GatewayError(411, "Send the image with a Content-Length (chunked uploads are not accepted).")
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                raise GatewayError(400, "Invalid Content-Length.") from None
            if length > config.max_body_bytes:
                raise GatewayError(413, f"The upload is {length} bytes, over the limit of {config.max_body_bytes} bytes (max_request_size).")
            return self.rfile.read(length) if length > 0 else b""

        def forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=config.timeout_s)
            try:
                connection.request(method, path, body=body, headers={**headers, "Content-Length": str(len(body))})
                response = connection.getresponse()
                data = response.read()
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                return self.reply_error(502, f"The model server at {config.upstream} is not answering ({type(exc).__name__}). Is it running? Start it with: make serve")
            finally:
                connection.close()
            reply_headers = {k: response.headers[k] for k in FORWARDED_REPLY_HEADERS if response.headers.get(k)}
            self.reply(response.status, data, reply_headers)

        def serve_static(self, path: str) -> None:
            relative = urllib.parse.unquote(path).lstrip("/") or "index.html"
            target = (frontend / relative).resolve()
            if not target.is_relative_to(frontend) or not target.is_file():
                return self.reply_error(404, f"Not found: {path}")
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.reply(200, target.read_bytes(), {"Content-Type": content_type, "Cache-Control": "no-cache"})

    return Handler


def serve(config: GatewayConfig) -> None:
    server = ThreadingHTTPServer((config.host, config.port), make_handler(config))
    server.daemon_threads = True
    print(f"dronesr gateway on http://{config.host}:{config.port}/ -> {config.upstream}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    defaults = GatewayConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=defaults.host, help=f"listen address (default: {defaults.host})")
    parser.add_argument("--port", type=int, default=defaults.port, help=f"listen port (default: {defaults.port})")
    parser.add_argument("--upstream", default=defaults.upstream, help=f"TorchServe inference address (default: {defaults.upstream})")
    parser.add_argument("--frontend", type=Path, default=defaults.frontend, help="folder of the web page (default: frontend/)")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes, help=f"upload limit (default: {defaults.max_body_bytes})")
    parser.add_argument("--timeout-s", type=float, default=defaults.timeout_s, help=f"upstream timeout (default: {defaults.timeout_s})")
    args = parser.parse_args(argv)
    serve(GatewayConfig(**vars(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
