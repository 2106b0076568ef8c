"""Fault suite of the endpoints and the batch's counts (issue 22): a hostile or broken server, a zero count. Each test
is a finding that failed before the change: it now ends in one line, in time. (A bad learning rate: test_faults_train.)
"""

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from moranb import http
from moranb.agents import Judge, PromptAgent
from moranb.errors import BackendError, InputError


@contextlib.contextmanager
def trickling_server(seconds: float = 8.0):
    """A server on 127.0.0.1 that answers 200 and then sends its body one byte every 0.2 s, for at most `seconds`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            stop = time.monotonic() + seconds
            with contextlib.suppress(OSError):
                while time.monotonic() < stop:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_trickling_server_gets_the_timeout_in_all_not_per_read(tiny):
    with trickling_server() as url:
        started = time.monotonic()
        with pytest.raises(BackendError, match=r"did not answer \(no complete answer within 1 s\)") as info:
            PromptAgent(tiny, backend="openai", base_url=url, timeout=1)("a fox")
        assert time.monotonic() - started < 4  # before: one timeout per read, so as long as the server liked
    assert url in str(info.value) and "\n" not in str(info.value)


def test_a_huge_reply_is_refused_not_read_whole(tiny, stub_server, monkeypatch):
    monkeypatch.setattr(http, "MAX_REPLY", 1000)
    big = json.dumps({"choices": [{"message": {"content": "x" * 5000}}]}).encode()
    with stub_server(lambda handler: (200, {"Content-Type": "application/json"}, big)) as (url, _):
        with pytest.raises(BackendError, match=r"prompt endpoint .* sent a reply over 0 MiB"):
            PromptAgent(tiny, backend="openai", base_url=url, timeout=5)("a fox")


def test_a_deeply_nested_reply_is_one_line(tiny, stub_server):
    nested = b"[" * 400_000 + b"]" * 400_000
    with stub_server(lambda handler: (200, {"Content-Type": "application/json"}, nested)) as (url, _):
        with pytest.raises(BackendError, match="nested too deeply"):
            PromptAgent(tiny, backend="openai", base_url=url, timeout=5)("a fox")


@pytest.mark.parametrize("content", [5, ["a", "list"], {"text": "a dict"}])
def test_content_of_the_wrong_type_is_one_line(tiny, stub_server, content):
    answer = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
    with stub_server(lambda handler: (200, {"Content-Type": "application/json"}, answer)) as (url, _):
        with pytest.raises(BackendError, match="did not answer in the OpenAI chat-completions format"):
            PromptAgent(tiny, backend="openai", base_url=url, timeout=5)("a fox")
        with pytest.raises(BackendError, match="did not answer in the OpenAI chat-completions format"):
            Judge(tiny, "a", backend="openai", base_url=url, timeout=5)("a fox", [_video(), _video()],
                                                                          "motion_smoothness")


def _video():
    import numpy as np

    from moranb import Video

    return Video(np.zeros((4, 16, 16, 3), np.uint8), 8)


def test_zero_samples_is_zero_not_the_default(capsys, tmp_path):
    from moranb.cli import main

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a fox\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path / "out"), "--samples", "0"]) == 2
    err = capsys.readouterr().err
    assert "at least 1" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "out" / "videos").exists()
