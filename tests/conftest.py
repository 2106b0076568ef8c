import contextlib
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Nothing in the tests may reach a model hub: a hub id must fail fast, as on any offline machine.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# VBench's cache (its weights, and the ViCLIP vocabulary moranb copies there) is a fresh folder: the tests use no
# real backbone and leave the user's cache alone.
os.environ["VBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="moranb-test-vbench-")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny():
    """The tiny profile, its models built (tests read their files as well as loading them)."""
    from moranb import get_profile
    from moranb.agents import ensure_tiny_models

    ensure_tiny_models()
    return get_profile("tiny")


@pytest.fixture(scope="session")
def scripted_judge():
    """A factory of stand-in judges: `scripted_judge(name, picks)` answers `picks` in order (None: an abstention)."""
    from moranb.agents.judge import Judgement

    def make(name, picks):
        answers = iter(picks)

        def judge(prompt, videos, criterion):
            pick = next(answers)
            return Judgement(judge=name, backend="scripted", criterion=criterion, pick=pick, reason="scripted",
                             raw=str(pick))

        return judge

    return make


@pytest.fixture
def moving_video():
    """A synthetic 12-frame video: a bright square moving right over a gradient."""
    from moranb import Video

    h, w = 64, 96
    frames = np.zeros((12, h, w, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 200, w, dtype=np.uint8)[None, None, :]
    for t in range(12):
        frames[t, 20:40, 4 + 6 * t : 24 + 6 * t, :] = 255
    return Video(frames, fps=8)


@pytest.fixture
def stub_server():
    """A factory of HTTP servers on 127.0.0.1: `with stub_server(respond) as (base_url, requests)`, where
    `respond(handler)` -> (status, headers, body bytes) answers every request and `requests` records them."""
    return _stub_server


@contextlib.contextmanager
def _stub_server(respond):
    """An HTTP server on 127.0.0.1 in a thread; `respond(handler)` -> (status, headers, body bytes)."""
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, headers, payload = respond(self)
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(payload))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", requests
    finally:
        server.shutdown()
        server.server_close()
