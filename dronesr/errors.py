"""What a client got wrong: one error type with a stable, machine-readable code.

Every 4xx reply of this project (the handlers, the connection guard, the page's server) is JSON

    {"code": "too_large", "status": 400, "type": "BadInput", "message": "The image is ..."}

``code`` is one of :data:`CODES` and never changes meaning between releases: the page and scripts
branch on it; ``message`` is a sentence for a person and may be reworded. TorchServe's own replies
(an unknown model, no worker yet) keep its convention: ``code`` is the HTTP status as a number and
``type`` names the exception (``ModelNotFoundException``).

Library code raises :class:`ClientError`; entry points turn it into a reply or an exit message.
"""

from __future__ import annotations

MAX_ECHO = 64  # characters of a client's value quoted in an error message

# code -> what it means (docs/serving.md lists them; tsguard/Replies.java and frontend/server.py use the same words)
CODES = {
    "no_image": "the request carried no image",
    "bad_image": "the image could not be decoded (damaged, truncated, empty)",
    "unsupported_format": "the file is not an image format the server reads (415)",
    "too_large": "over a size limit: pixels in or out, the reply, the request body (413), KServe instances",
    "bad_parameter": "a parameter's value is not valid (the message names the parameter)",
    "unknown_parameter": "a parameter this model does not accept",
    "bad_request": "the request's form is wrong: KServe JSON, base64, a header or parameter name",
    "not_acceptable": "Accept allows none of the output types (406)",
    "out_of_memory": "the server ran out of memory for this image (507)",
    # the connection guard's (tsguard/) and the page server's own
    "timeout": "the request did not arrive within the server's time limit (408)",
    "too_many_connections": "over the server's limit of open connections (429)",
    "forbidden_host": "the Host header names no loopback address (403)",
    "not_found": "no such page (the page's server, 404)",
    "method_not_allowed": "the page's server answers GET and HEAD only (405, 501)",
    "server_error": "the server failed (5xx): not the client's doing",
}


def echo(value: object) -> str:
    """A client's value, safe to quote in a message: at most MAX_ECHO characters, escaped."""
    text = bytes(value).decode("utf-8", errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)
    return repr(text[:MAX_ECHO]) + ("..." if len(text) > MAX_ECHO else "")


class ClientError(ValueError):
    """Something the client got wrong: the HTTP status to answer with (4xx), a stable ``code``
    (a key of :data:`CODES`) and a message a person can act on."""

    def __init__(self, message: str, code: str, status: int = 400):
        if code not in CODES:
            raise KeyError(f"unknown client error code {code!r}")  # a programming error, caught by the tests
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def reply(self) -> dict:
        """The JSON body of the reply."""
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: str, message: str) -> dict:
    """The project's JSON error body (4xx: BadInput, 5xx: ServerError)."""
    return {"code": code, "status": status, "type": "BadInput" if status < 500 else "ServerError", "message": message}
