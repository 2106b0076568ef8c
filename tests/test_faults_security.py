"""Issue 11, the credentials, loading and evaluation findings: each test reproduces one and checks the fix.

- the prompt agent's OpenAI-compatible client refuses a redirect (the key never reaches the other address);
- models load from safetensors only unless a Model allows pickles; torch.load always passes weights_only=True;
- evaluation goes on past a corrupt mp4 or a broken run folder, scores a 1-frame video without dividing by zero,
  takes one metric as a string, and the VideoTI models fail fast offline with a fix that is valid Python.
"""

import ast
import contextlib
import json
import re
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from moranb import Video, models
from moranb.agents import PromptAgent
from moranb.config import Model
from moranb.errors import BackendError, ModelNotAvailableError

ROOT = Path(__file__).resolve().parents[1]


# --- credentials only to the configured origin ---------------------------------------------------------------------

def test_prompt_agent_refuses_a_redirect_and_the_key_stays_home(tiny, monkeypatch, stub_server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    answer = json.dumps({"choices": [{"message": {"content": "stolen answer"}}]}).encode()
    with stub_server(lambda handler: (200, {"Content-Type": "application/json"}, answer)) as (elsewhere, stolen):
        with stub_server(lambda handler: (302, {"Location": f"{elsewhere}/chat/completions"}, b"")) as (origin, asked):
            with pytest.raises(BackendError) as info:
                PromptAgent(tiny, backend="openai", base_url=origin, timeout=5)("a fox")
    message = str(info.value)
    assert "redirect" in message and elsewhere in message and "\n" not in message
    assert len(asked) == 1 and asked[0]["headers"].get("Authorization") == "Bearer sk-secret"
    assert stolen == []  # neither the key nor the prompt went to the other port


def test_prompt_and_judge_share_one_http_client():
    from moranb import http
    from moranb.agents.judge import agent as judge
    from moranb.agents.prompt import agent as prompt

    assert prompt.post_json is judge.post_json is http.post_json


# --- safe loading by default ---------------------------------------------------------------------------------------

def _pickled_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)
    import torch
    from safetensors.torch import load_file

    BertModel(config).save_pretrained(folder)  # transformers 5 writes safetensors only: turn it into a pickle
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    assert [p.name for p in folder.glob("*.bin")] and not list(folder.glob("*.safetensors"))
    return folder


def test_a_folder_holding_only_a_pickled_bin_is_refused_naming_the_option(tmp_path):
    from transformers import AutoModel

    folder = _pickled_bert(tmp_path / "bert")
    with pytest.raises(ModelNotAvailableError) as info:
        models.from_pretrained(AutoModel, Model(str(folder)), "llm")
    message = str(info.value)
    assert "\n" not in message and "pickle" in message and "allow_pickle=True" in message and str(folder) in message
    assert models.from_pretrained(AutoModel, Model(str(folder), allow_pickle=True), "llm").config.hidden_size == 8


def test_a_pickled_diffusers_model_is_refused_too(tmp_path):
    from diffusers import AutoencoderKL

    AutoencoderKL(block_out_channels=(8,), norm_num_groups=8, latent_channels=4).save_pretrained(
        tmp_path / "vae", safe_serialization=False)
    with pytest.raises(ModelNotAvailableError, match="allow_pickle=True"):
        models.from_pretrained(AutoencoderKL, Model(str(tmp_path / "vae")), "connection")
    assert models.from_pretrained(AutoencoderKL, Model(str(tmp_path / "vae"), allow_pickle=True), "connection")


def test_models_are_asked_for_safetensors_and_tokenizers_are_not(tiny, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    seen = {}
    for cls in (AutoTokenizer, AutoModelForCausalLM):
        real = cls.from_pretrained.__func__

        def spy(klass, source, real=real, **kwargs):
            seen[klass.__name__] = kwargs
            return real(klass, source, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    models.from_pretrained(AutoTokenizer, tiny.prompt.model, "llm")
    models.from_pretrained(AutoModelForCausalLM, tiny.prompt.model, "llm")  # the tiny models (save_pretrained) still load
    assert seen["AutoModelForCausalLM"].get("use_safetensors") is True
    assert "use_safetensors" not in seen["AutoTokenizer"]


def test_every_torch_load_in_evaluation_passes_weights_only():
    tree = ast.parse((ROOT / "moranb/eval/core.py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load"]
    assert len(calls) == 4
    for call in calls:
        flags = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert flags.get("weights_only") == "True", ast.unparse(call)


def test_the_aesthetic_head_is_read_with_weights_only(monkeypatch):
    import torch

    from moranb.eval.core import Backbones, vbench_cache_dir

    path = vbench_cache_dir() / "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.nn.Linear(768, 1).state_dict(), path)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real(*a, **k))
    try:
        Backbones()._load_aesthetic()
    finally:
        path.unlink()
    assert calls and all(k.get("weights_only") is True for k in calls)


def test_the_torch_floor_is_one_where_weights_only_holds():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floor = next(re.match(r"torch>=([\d.]+)", d).group(1) for d in deps if d.startswith("torch>="))
    assert tuple(int(x) for x in floor.split(".")[:2]) >= (2, 6)  # weights_only=True is bypassable before 2.6


# --- evaluation goes on past a bad video ---------------------------------------------------------------------------

def _clip(frames=8, shift=0):
    x = np.zeros((frames, 32, 48, 3), np.uint8)
    for t in range(frames):
        x[t, 8:20, 4 + shift * t : 16 + shift * t] = 255
    return Video(x, fps=8)


def test_a_corrupt_mp4_and_a_broken_run_are_reported_and_the_rest_scored(tmp_path):
    from moranb.eval import evaluate
    from moranb.report import table1

    _clip(shift=3).save(tmp_path / "moving.mp4")
    _clip(shift=0).save(tmp_path / "still.mp4")
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text("{not json")
    results = evaluate(tmp_path, metrics=["dynamic_degree"], progress=False)
    rows = {row["name"]: row for row in results["videos"]}
    assert set(rows) == {"moving", "still", "corrupt", "run"}
    assert rows["moving"]["scores"]["dynamic_degree"]["value"] == 1.0
    assert rows["still"]["scores"]["dynamic_degree"]["value"] == 0.0
    for bad in ("corrupt", "run"):
        assert rows[bad]["scores"] == {} and "\n" not in rows[bad]["error"]
    assert "corrupt.mp4" in rows["corrupt"]["error"] and "run folder" in rows["run"]["error"]
    assert results["aggregate"]["dynamic_degree"]["count"] == 2
    assert results["aggregate"]["unreadable"]["count"] == 2
    assert sorted(results["aggregate"]["unreadable"]["videos"]) == ["corrupt", "run"]
    assert table1(results)  # the report reads results holding error rows


def test_a_one_frame_video_gets_no_value_with_the_reason_not_a_division_by_zero():
    from moranb.eval import evaluate, subject_consistency

    one = _clip(frames=1)
    score = subject_consistency(one)
    assert score.value is None and "at least 2 frames" in score.reason
    results = evaluate([one], progress=False)
    scores = results["videos"][0]["scores"]
    for name in ("subject_consistency", "background_consistency", "temporal_flickering", "dynamic_degree"):
        assert scores[name]["value"] is None and "at least 2 frames" in scores[name]["reason"], name
    assert scores["imaging_quality"]["value"] is not None  # a metric of single frames still scores it


def test_one_metric_may_be_given_as_a_string():
    from moranb.eval import evaluate

    results = evaluate(_clip(), metrics="subject_consistency", progress=False)
    assert results["metrics"] == ["subject_consistency"]
    assert list(results["videos"][0]["scores"]) == ["subject_consistency"]


def _suggested_fix(message: str) -> str:
    return message.split("e.g. ", 1)[1].rsplit("  [", 1)[0]


@pytest.mark.parametrize("offline", [True, False])
def test_videoti_offline_fails_fast_with_a_fix_that_is_valid_python(monkeypatch, offline):
    from moranb.eval import videoti

    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # no HF_HUB_OFFLINE, and the hub cannot be reached: no minutes of retries either
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        with contextlib.closing(__import__("socket").socket()) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed once we leave: nothing listens there
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(sys.modules["moranb.eval.videoti"], "CAPTIONER", "moranb-test/no-such-captioner")
    monkeypatch.setenv("MORANB_VIDEOTI_CAPTIONER", "")  # restored after the fix below sets it
    models.clear()
    video = _clip()
    start = time.perf_counter()
    with pytest.raises(ModelNotAvailableError) as info:
        videoti(video.first_frame, "make it snow", video, backend="vbench")
    assert time.perf_counter() - start < 30
    message = str(info.value)
    assert "moranb-test/no-such-captioner" in message and "\n" not in message
    fix = _suggested_fix(message)
    namespace = {"os": __import__("os")}
    ast.parse(fix)
    exec(fix, namespace)  # valid Python, and it is the setting videoti reads
    assert namespace["os"].environ["MORANB_VIDEOTI_CAPTIONER"] == "/path/to/blip"
