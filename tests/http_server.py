"""A real HTTP server on 127.0.0.1 that honours byte ranges and counts the bytes it sends."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _RangeHandler(SimpleHTTPRequestHandler):
    """Counts bytes sent for ranged requests (``bytes_sent``) and requests for the whole file
    (``full_requests``) apart: remfile learns a file's size with a streamed GET it drops after the
    headers, and on loopback the kernel's socket buffer would swallow the whole body unread."""

    bytes_sent = 0
    requests = 0
    full_requests = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep test output quiet
        pass

    def _count(self, n: int) -> None:
        with self.lock:
            type(self).bytes_sent += n
            type(self).requests += 1

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        match = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1) or 0)
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            start, end = 0, size - 1
            self.send_response(200)
            with self.lock:
                type(self).full_requests += 1
        length = end - start + 1
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/x-hdf5")
        self.end_headers()
        if head:
            return
        with open(path, "rb") as fh:
            fh.seek(start)
            try:
                self.wfile.write(fh.read(length))
            except (BrokenPipeError, ConnectionResetError):  # the client only wanted the headers
                return
        if match:
            self._count(length)


@contextlib.contextmanager
def serve_with(handler: type, folder: os.PathLike, on_stop=None):
    """Serve ``folder`` on 127.0.0.1 (a free port) with ``handler``; yield the base URL.
    ``on_stop()`` runs before the server shuts down (e.g. to release stalled answers)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if on_stop is not None:
            on_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_folder(folder: os.PathLike):
    """Serve ``folder`` on 127.0.0.1 (a free port); yield (base_url, handler class with counters)."""
    handler = type("Handler", (_RangeHandler,), {"bytes_sent": 0, "requests": 0, "full_requests": 0})
    with serve_with(handler, folder) as url:
        yield url, handler
