"""A loopback web site whose pages the tests change between monitoring runs.

``Site.routes`` maps a path to a :class:`Route`; tests replace entries between runs (take a
page down, swap its picture, add a redirect). Also pictures to post on it.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Site:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.routes: dict[str, Route] = {}
        self.hits: list[tuple[str, str]] = []  # (path, user agent)
        self.cookies_seen: list[str] = []

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, *images: str, extra: str = "") -> None:
        tags = "".join(f'<img src="{i}" alt="">' for i in images)
        head = "<!doctype html><html><head><title>post</title></head>"
        html = f"{head}<body>{tags}{extra}</body></html>"
        self.routes[path] = Route(body=html.encode())

    def file(self, path: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.routes[path] = Route(body=data, content_type=content_type)


def _handler(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            site.hits.append((path, self.headers.get("User-Agent", "")))
            if self.headers.get("Cookie"):
                site.cookies_seen.append(self.headers["Cookie"])
            route = site.routes.get(path, Route(status=404, body=b"not found"))
            if route.delay:
                time.sleep(route.delay)
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_site() -> Iterator[Site]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(Site(0)))
    site = Site(server.server_address[1])
    server.RequestHandlerClass = _handler(site)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/post"


def picture(seed: int, size: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img)


def jpeg(pixels: np.ndarray, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def edited_copy(pixels: np.ndarray) -> bytes:
    """Mirrored left to right, resized to 75 %, re-encoded at JPEG quality 70."""
    img = Image.fromarray(pixels[:, ::-1])
    w, h = img.size
    img = img.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()
