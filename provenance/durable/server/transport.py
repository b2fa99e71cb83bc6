"""The HTTP protocol the server runs on: uvicorn's h11 protocol, with its own transport-level
errors (a request that is not valid HTTP) answered in the API's JSON error shape instead of
uvicorn's plain text."""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["JsonErrorsH11Protocol"]


class JsonErrorsH11Protocol(H11Protocol):
    """``H11Protocol`` whose 400 for malformed HTTP is ``{"error": ..., "code": "bad_http"}``."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": msg, "code": "bad_http"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()
