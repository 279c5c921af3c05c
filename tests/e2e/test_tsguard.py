"""The connection guard TorchServe runs with (tsguard/, a Java agent named in config.properties'
vmargs): read timeouts, a connection cap per port, and replies for what TorchServe 0.12 left
open. A TorchServe of its own with srresnet and short limits, so that a timeout is waited for in
seconds; the shipped limits are the same code with other numbers (docs/serving.md "Limits and errors")."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from harness import ROOT, ts_setting
from harness import torchserve
from tests.helpers import encode, synthetic_photo

REQUEST_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_CONNECTIONS = 1, 3, 4
GUARD = {"request_timeout_s": REQUEST_TIMEOUT_S, "idle_timeout_s": IDLE_TIMEOUT_S, "max_connections": MAX_CONNECTIONS}
JAR = ROOT / ts_setting("vmargs").split("-javaagent:")[1].split()[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    subprocess.run(["make", "archive"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    server = torchserve.start(tmp_path_factory.mktemp("torchserve-guard"), ROOT / "model_store", ["srresnet"], guard=GUARD)
    yield server
    server.stop()


def connect(server) -> socket.socket:
    host, port = server.inference.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT_S + IDLE_TIMEOUT_S + 10)


def read_reply(connection: socket.socket) -> tuple[int, str, bytes]:
    """(status, reason phrase, body) of one reply; b"" body and status 0 if the server closed."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            if len(body) >= length:
                status_line = head.split(b"\r\n")[0].decode()
                return int(status_line.split(" ")[1]), status_line.split(" ", 2)[2], body[:length]
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:  # TorchServe closes with SO_LINGER 0 (a reset)
            chunk = b""
        if not chunk:
            return 0, "", b""
        data += chunk


def request(path: str, body: bytes = b"", content_type: str = "image/png") -> bytes:
    method = "POST" if body else "GET"
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def test_a_request_that_stalls_gets_a_408_json_at_the_deadline(server):
    with connect(server) as connection:
        connection.sendall(b"POST /predictions/srresnet HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n\x89PNG")
        started = time.monotonic()
        status, reason, body = read_reply(connection)
    assert (status, reason) == (408, "Request Timeout")
    assert REQUEST_TIMEOUT_S - 0.5 < time.monotonic() - started < REQUEST_TIMEOUT_S + 2
    reply = json.loads(body)
    assert reply["code"] == "timeout" and reply["status"] == 408 and f"within {REQUEST_TIMEOUT_S} s" in reply["message"]


def test_a_trickling_client_is_cut_at_the_deadline_from_its_first_byte(server):
    """Slowloris: one byte at a time keeps a read-idle timer alive for ever; this clock does not reset."""
    started = time.monotonic()
    with connect(server) as connection:
        try:
            for byte in b"GET /ping HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                connection.sendall(bytes([byte]))
                time.sleep(0.25)
                if time.monotonic() - started > REQUEST_TIMEOUT_S + 0.5:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, _ = read_reply(connection)
    assert status in (408, 0)  # the 408 is sent; a reset can overtake it while the client still writes
    assert time.monotonic() - started < REQUEST_TIMEOUT_S + 2


def test_an_idle_connection_is_closed(server):
    with connect(server) as connection:
        started = time.monotonic()
        assert read_reply(connection) == (0, "", b"")
    assert IDLE_TIMEOUT_S - 0.5 < time.monotonic() - started < IDLE_TIMEOUT_S + 2


def test_a_reply_that_takes_longer_than_the_request_timeout_is_not_cut_and_the_connection_is_kept(server):
    photo = encode(synthetic_photo(960, 960, seed=3), "PNG")  # several seconds of work on any CPU we serve from: longer than the 1 s timeout
    with connect(server) as connection:
        started = time.monotonic()
        connection.sendall(request("/predictions/srresnet", photo))
        first = read_reply(connection)
        took = time.monotonic() - started
        connection.sendall(request("/ping"))
        second = read_reply(connection)  # the same connection, kept alive
    assert first[0] == 200 and first[2].startswith(b"\x89PNG")
    assert took > REQUEST_TIMEOUT_S, f"the model answered in {took:.1f} s: use a larger photo for this test"
    assert second[0] == 200 and json.loads(second[2])["status"] == "Healthy"


def test_connections_over_the_cap_get_a_429_json_and_a_closed_one_frees_its_place(server):
    connections = [connect(server) for _ in range(MAX_CONNECTIONS + 1)]
    try:
        replies = []
        for connection in connections:
            connection.sendall(request("/ping"))
            replies.append(read_reply(connection))
        # which one is refused is up to the event-loop threads that set them up
        assert sorted(status for status, _, _ in replies) == [200] * MAX_CONNECTIONS + [429]
        status, reason, body = next(reply for reply in replies if reply[0] == 429)
        assert reason == "Too Many Requests"
        assert f"limit of {MAX_CONNECTIONS} open connections" in json.loads(body)["message"]
    finally:
        for connection in connections:
            connection.close()
    time.sleep(0.5)
    assert requests.get(f"{server.inference}/ping", timeout=10).status_code == 200


def test_the_management_port_has_its_own_guard(server):
    host, port = server.management.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /models HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never end
        assert read_reply(connection)[0] == 408


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8081", "127.0.0.1.evil.example", "[::2]:1"])
def test_a_page_rebound_to_loopback_cannot_reach_the_management_api(server, host):
    """DNS rebinding: a page whose domain now resolves to 127.0.0.1 calls the API as its own
    origin, past CORS; its browser still sends the page's host name, which loopback refuses."""
    reply = requests.get(f"{server.management}/models", headers={"Host": host}, timeout=10)
    assert reply.status_code == 403 and reply.json()["type"] == "HostNotLoopback" and reply.json()["code"] == "forbidden_host"
    for name in ("127.0.0.1", "localhost:1", "[::1]:8081"):
        assert requests.get(f"{server.management}/models", headers={"Host": name}, timeout=10).status_code == 200


@pytest.mark.parametrize("value", ["0", "soon"])
def test_the_guard_refuses_a_bad_setting_at_start(value):
    """TorchServe does not start rather than serve without its limits."""
    settings = [f"-D{torchserve.GUARD_PREFIX}{name}={value if name == 'max_connections' else 5}" for name in GUARD]
    result = subprocess.run(["java", f"-javaagent:{JAR}", *settings, "-version"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"-D{torchserve.GUARD_PREFIX}max_connections must be a positive integer" in result.stderr


def test_the_guard_stops_a_torchserve_it_cannot_guard(tmp_path):
    """A ModelServer that does not name TorchServe 0.12's initialiser: no start rather than no limits."""
    source = tmp_path / "org" / "pytorch" / "serve" / "ModelServer.java"
    source.parent.mkdir(parents=True)
    source.write_text('package org.pytorch.serve;\npublic class ModelServer { public static void main(String[] a) { System.out.println("serving unguarded"); } }\n')
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(source)], check=True, timeout=120)
    settings = [f"-D{torchserve.GUARD_PREFIX}{name}=5" for name in GUARD]
    result = subprocess.run(["java", f"-javaagent:{JAR}", *settings, "-cp", str(tmp_path / "classes"), "org.pytorch.serve.ModelServer"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "serving unguarded" not in result.stdout
    assert "cannot install the connection guard" in result.stderr and "named 0 times" in result.stderr


def test_the_guard_stops_at_start_when_torchserves_pipeline_lacks_a_handler_it_needs(tmp_path):
    """A TorchServe whose connection pipeline has no "aggregator": stopped when ModelServer builds
    its initialisers at start, not at the first connection."""
    import ts

    frontend = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    classes = tmp_path / "classes"
    sources = {
        "ServerInitializer": (
            "package org.pytorch.serve;\n"
            "import io.netty.channel.*; import io.netty.handler.codec.http.HttpServerCodec;\n"
            "import io.netty.handler.ssl.SslContext; import org.pytorch.serve.util.ConnectorType;\n"
            "public class ServerInitializer extends ChannelInitializer<Channel> {\n"
            "  public ServerInitializer(SslContext ssl, ConnectorType type) {}\n"
            "  @Override public void initChannel(Channel ch) {\n"
            "    ch.pipeline().addLast(\"http\", new HttpServerCodec()).addLast(\"handler\", new ChannelInboundHandlerAdapter()); } }\n"
        ),
        "ModelServer": (
            "package org.pytorch.serve;\n"
            "public class ModelServer { public static void main(String[] a) {\n"
            "  new ServerInitializer(null, org.pytorch.serve.util.ConnectorType.INFERENCE_CONNECTOR);\n"
            "  System.out.println(\"serving\"); } }\n"
        ),
    }
    for name, text in sources.items():
        (tmp_path / f"{name}.java").write_text(text)
    subprocess.run(["javac", "-cp", str(frontend), "-d", str(classes), *(str(tmp_path / f"{n}.java") for n in sources)], check=True, timeout=120)
    settings = [f"-D{torchserve.GUARD_PREFIX}{name}=5" for name in GUARD]
    classpath = f"{classes}:{frontend}"  # the stubs first, TorchServe's Netty behind them
    result = subprocess.run(["java", f"-javaagent:{JAR}", *settings, "-cp", classpath, "org.pytorch.serve.ModelServer"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "serving" not in result.stdout
    assert "has no [aggregator] handler" in result.stderr
