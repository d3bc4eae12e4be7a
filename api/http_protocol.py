"""The HTTP/1.1 protocol the service runs on: uvicorn's httptools protocol, except that
a request the parser refuses (a request line or headers too long, bytes that are not
HTTP) is answered as every other error is — an RFC 9457 problem document — instead of
uvicorn's plain-text ``Invalid HTTP request received.``; a URL over
:data:`MAX_URL_BYTES` is ``414 URI Too Long`` saying what to do instead.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .problems import MEDIA_TYPE, PROBLEM_BASE

#: URLs longer than this are refused with 414 (the parser gives up near 64 kB anyway)
MAX_URL_BYTES = 16_384


def refusal(url_bytes: int) -> tuple[int, dict]:
    """(status, problem) for a request the HTTP parser could not read."""
    if url_bytes > MAX_URL_BYTES:
        return 414, {
            "type": PROBLEM_BASE + "uri-too-long",
            "title": "URI too long",
            "status": 414,
            "detail": f"the URL has {url_bytes:,} bytes or more; the limit is "
            f"{MAX_URL_BYTES:,}. Send fewer or shorter parameters (e.g. a bbox or an area "
            "code instead of a long list)",
        }
    return 400, {
        "type": PROBLEM_BASE + "bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": "the request is not valid HTTP/1.1 (or its request line or headers are too long)",
    }


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` answering unparseable requests with problem+json."""

    def send_400_response(self, msg: str) -> None:
        status, problem = refusal(len(getattr(self, "url", b"") or b""))
        body = json.dumps(problem).encode()
        reason = {400: b"Bad Request", 414: b"URI Too Long"}[status]
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
