import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from PIL import Image

from moranb import Video
from moranb.agents import (ConnectionAgent, ImageToImageAgent, ImageToVideoAgent, PromptAgent, SegmentedVideo,
                           TextToImageAgent)
from moranb.errors import BackendError, InputError, ResolutionError


@pytest.fixture(scope="module")
def first_frame(tiny):
    return TextToImageAgent(tiny)("a red fox in snow", seed=0)


def test_text_to_image_is_seeded(tiny, first_frame):
    assert first_frame.size == (tiny.width, tiny.height)
    again = TextToImageAgent(tiny)("a red fox in snow", seed=0)
    other = TextToImageAgent(tiny)("a red fox in snow", seed=1)
    assert np.array_equal(np.asarray(first_frame), np.asarray(again))
    assert not np.array_equal(np.asarray(first_frame), np.asarray(other))


def test_text_to_image_without_refiner(tiny):
    image = TextToImageAgent(tiny.with_model("refiner", None))("a fox", seed=0, width=64, height=64)
    assert image.size == (64, 64)


def test_text_to_image_rejects_a_size_the_model_cannot_take(tiny):
    with pytest.raises(ResolutionError, match="multiples of 8.*try 96x64"):
        TextToImageAgent(tiny)("a fox", width=100, height=64)


def test_image_to_image_keeps_size_and_changes_pixels(tiny, first_frame):
    edited = ImageToImageAgent(tiny)(first_frame, "make it snowy", seed=0)
    assert edited.size == first_frame.size
    assert not np.array_equal(np.asarray(edited), np.asarray(first_frame))
    with pytest.raises(InputError, match="instruction is empty"):
        ImageToImageAgent(tiny)(first_frame, "  ")


def test_image_to_video_chains_segments_on_last_frames(tiny, first_frame):
    out = ImageToVideoAgent(tiny)(first_frame, seed=0, segments=3, frames_per_segment=4, progress=False)
    assert out.video.frames.shape == (12, tiny.height, tiny.width, 3)
    assert [s.num_frames for s in out.segments] == [4, 4, 4]
    assert out.conditioning[0] is not None
    for k in range(2):
        assert np.array_equal(np.asarray(out.conditioning[k + 1]), out.segments[k].frames[-1])
    with pytest.raises(InputError, match="at least 1"):
        ImageToVideoAgent(tiny)(first_frame, frames_per_segment=0)
    with pytest.raises(InputError, match="at least 1"):
        ImageToVideoAgent(tiny)(first_frame, segments=-2)


def test_segmented_video_joins_once_and_derives_its_conditioning():
    rng = np.random.default_rng(0)
    clips = [Video(rng.integers(0, 256, (n, 8, 16, 3), dtype=np.uint8), fps=7) for n in (3, 2, 4)]
    first = Image.fromarray(rng.integers(0, 256, (8, 16, 3), dtype=np.uint8))
    out = SegmentedVideo(first, clips)
    assert out.video is out.video and out.video.num_frames == 9 and out.video.fps == 7
    assert np.array_equal(out.video.frames, np.concatenate([c.frames for c in clips]))
    assert out.conditioning[0] is first and len(out.conditioning) == 3
    for k in range(2):
        assert np.array_equal(np.asarray(out.conditioning[k + 1]), clips[k].frames[-1])
    with pytest.raises(AttributeError):
        out.first = first  # frozen: what the stage cache keeps is what the task used
    with pytest.raises(InputError, match="at least one segment"):
        SegmentedVideo(first, [])


def test_connection_fills_the_frames_between(tiny, first_frame):
    end = Image.fromarray(255 - np.asarray(first_frame))
    transition = ConnectionAgent(tiny)(first_frame, end, seed=0)
    assert transition.frames.shape == (tiny.connection.frames - 2, tiny.height, tiny.width, 3)
    with pytest.raises(InputError, match="8k\\+1"):
        ConnectionAgent(tiny)(first_frame, end, num_frames=10)
    with pytest.raises(ResolutionError, match="multiples of 32"):
        ConnectionAgent(tiny)(first_frame.resize((72, 64)), end.resize((72, 64)))


def test_prompt_agent_rule_backend(tiny):
    agent = PromptAgent(tiny, backend="rule")
    assert agent("a fox").startswith("a fox, ")
    assert "voxel" in agent("a fox", style="a voxel sandbox game")
    for bad in ("", "   ", None, 3):
        with pytest.raises(InputError):
            agent(bad)


def test_prompt_agent_transformers_backend_runs_the_local_lm(tiny):
    text = PromptAgent(tiny, backend="transformers")("a fox")
    assert isinstance(text, str) and text.strip()
    assert text == PromptAgent(tiny, backend="transformers")("a fox")  # greedy: deterministic


class _Stub(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.seen.append((self.path, body))
        reply = {"choices": [{"message": {"role": "assistant", "content": f"DETAILED: {body['messages'][-1]['content']}"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_prompt_agent_openai_backend_against_a_local_stub(tiny):
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        text = PromptAgent(tiny, backend="openai", base_url=url, model="llama3")("a fox")
    finally:
        server.shutdown()
    assert text == "DETAILED: a fox"
    path, body = _Stub.seen[-1]
    assert path == "/v1/chat/completions" and body["model"] == "llama3"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_prompt_agent_openai_backend_unreachable(tiny):
    agent = PromptAgent(tiny, backend="openai", base_url="http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(BackendError, match="did not answer.*prompt_backend='rule'"):
        agent("a fox")
