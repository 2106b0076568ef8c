import json
import socket
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from moranb import Video, models
from moranb.agents import CRITERIA, Judge, Judgement
from moranb.agents.judge import candidate_image, parse_answer
from moranb.config import Model, full_profile, lowvram_profile
from moranb.errors import BackendError, InputError


def smooth_video(frames=8, offset=0):
    """A white square gliding right over a gradient: every frame close to its neighbours."""
    video = np.zeros((frames, 48, 64, 3), np.uint8)
    video[..., 2] = np.linspace(0, 200, 64, dtype=np.uint8)[None, None, :]
    for t in range(frames):
        video[t, 14:30, offset + 2 + 4 * t : offset + 18 + 4 * t] = 255
    return Video(video, fps=8)


def noisy_video(frames=8, seed=0):
    return Video(np.random.default_rng(seed).integers(0, 256, (frames, 48, 64, 3), dtype=np.uint8), fps=8)


CANDIDATES = [noisy_video(), smooth_video(), smooth_video(offset=8)]


# -- criteria and profiles ------------------------------------------------------------------------------------------

def test_ten_criteria_with_one_sentence_each():
    assert list(CRITERIA) == [
        "prompt_faithfulness", "subject_consistency", "background_consistency", "motion_smoothness",
        "temporal_flickering", "dynamic_degree", "imaging_quality", "aesthetic_quality", "temporal_style",
        "overall_quality",
    ]
    for text in CRITERIA.values():
        assert text.endswith(".") and text.count(". ") == 0 and "\n" not in text


def test_profiles_name_the_papers_judges(tiny):
    full, low = full_profile(), lowvram_profile()
    assert full.judge.a.source == "llava-hf/llava-onevision-qwen2-7b-ov-hf"
    assert full.judge.b.source == "Qwen/Qwen2-VL-7B-Instruct"
    assert low.judge.a.source == "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"
    assert low.judge.b.source == "Qwen/Qwen2-VL-2B-Instruct"
    assert full.judge.backend == low.judge.backend == "transformers"
    assert tiny.judge.backend == "metrics" and Path(tiny.judge.a.source).name == "llava-onevision"
    assert full.judge.openai_models == ("llava-onevision", "qwen2-vl")


# -- the transformers backend on the tiny VLMs ------------------------------------------------------------------------

REAL_CLASSES = {"judge_a": ("LlavaOnevisionForConditionalGeneration", "LlavaOnevisionProcessor"),
                "judge_b": ("Qwen2VLForConditionalGeneration", "Qwen2VLProcessor")}


def test_tiny_vlms_are_the_real_classes_loaded_through_from_pretrained(tiny, monkeypatch):
    models.clear()
    calls = []
    real = models.from_pretrained

    def spy(cls, model, field, **kwargs):
        calls.append((cls.__name__, field))
        return real(cls, model, field, **kwargs)

    monkeypatch.setattr(models, "from_pretrained", spy)
    for field, (model_cls, processor_cls) in REAL_CLASSES.items():
        config = json.loads((Path(tiny.model(field).source) / "config.json").read_text())
        assert config["architectures"] == [model_cls]
        processor, vlm = models.load_vlm(tiny.model(field), tiny, field)
        assert (type(vlm).__name__, type(processor).__name__) == (model_cls, processor_cls)
        assert models.load_vlm(tiny.model(field), tiny, field)[1] is vlm  # one copy per process
    assert calls == [("AutoProcessor", "judge_a"), ("AutoModelForImageTextToText", "judge_a"),
                     ("AutoProcessor", "judge_b"), ("AutoModelForImageTextToText", "judge_b")]


def _spy_generate(monkeypatch, vlm, answer=None, tokenizer=None):
    """Record what generate saw; answer `answer` instead of the model's tokens when given."""
    import torch

    seen = {}
    real = vlm.generate

    def generate(**inputs):
        seen.update(inputs)
        if answer is None:
            return real(**inputs)
        ids = torch.tensor([tokenizer.encode(answer, add_special_tokens=False)])
        return torch.cat([inputs["input_ids"], ids], dim=1)

    monkeypatch.setattr(vlm, "generate", generate)
    return seen


@pytest.mark.parametrize("which", ["a", "b"])
def test_transformers_judge_sees_one_image_per_candidate_and_abstains_on_noise(tiny, monkeypatch, which):
    judge = Judge(tiny, which, backend="transformers")
    processor, vlm = models.load_vlm(tiny.model(judge.field), tiny, judge.field)
    seen = _spy_generate(monkeypatch, vlm)
    result = judge("a white square gliding right", CANDIDATES, "motion_smoothness")

    assert isinstance(result, Judgement) and (result.backend, result.criterion) == ("transformers", "motion_smoothness")
    assert result.judge == Path(tiny.model(judge.field).source).name
    assert result.raw and result.abstained and "abstained" in result.reason  # a random-weight model answers noise
    json.dumps(asdict(result))
    image_tokens = int((seen["input_ids"] == processor.image_token_id).sum())
    if which == "a":  # LLaVA-OneVision multi-image: one tile per image, its tokens plus a newline
        assert seen["pixel_values"].shape[0] == 3 and seen["batch_num_images"].tolist() == [3]
        assert image_tokens == 3 * (processor.num_image_tokens + 1)
    else:  # Qwen2-VL: one <|vision_start|> ... <|vision_end|> block per image
        assert seen["image_grid_thw"].shape[0] == 3
        assert image_tokens == int(seen["image_grid_thw"].prod(dim=1).sum()) // 4
        start = processor.tokenizer.convert_tokens_to_ids("<|vision_start|>")
        assert int((seen["input_ids"] == start).sum()) == 3


@pytest.mark.parametrize("which", ["a", "b"])
def test_transformers_judge_reads_a_clear_answer(tiny, monkeypatch, which):
    judge = Judge(tiny, which, backend="transformers")
    processor, vlm = models.load_vlm(tiny.model(judge.field), tiny, judge.field)
    answer = '{"best": 2, "reason": "the square glides without jumps"}'
    _spy_generate(monkeypatch, vlm, answer, processor.tokenizer)
    result = judge("a white square gliding right", CANDIDATES, "motion_smoothness")
    assert (result.pick, result.reason, result.raw) == (1, "the square glides without jumps", answer)


def test_candidate_image_is_a_plain_strip_capped_in_width():
    strip = candidate_image(smooth_video(), frames=4)
    assert strip.size == (4 * 64, 48)
    assert np.array_equal(np.asarray(strip)[:, 64:128], smooth_video().frames[2])  # frames 0, 2, 5, 7: no labels
    wide = candidate_image(Video(np.zeros((8, 576, 1024, 3), np.uint8), 8), frames=4)
    assert wide.width == 1344 and wide.height == round(576 * 1344 / 4096)


# -- the answer parser ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, pick", [
    ('{"best": 2, "reason": "smoother"}', 1),
    ('```json\n{"best": 3, "reason": "sharper"}\n```', 2),
    ('Sure! Here is my answer: {"best": "1", "reason": "x"} Hope it helps.', 0),
    ("best: 2", 1),
    ("Best = 3 because it is sharp", 2),
    ("I would pick Candidate 1, it is the sharpest.", 0),
    ('{"best": 2, "reason": "unclosed"', 1),  # broken JSON still says best: 2
])
def test_parser_reads_good_answers(answer, pick):
    assert parse_answer(answer, 3)[0] == pick


@pytest.mark.parametrize("answer, why", [
    ("", "names no candidate"),
    ("The videos are all lovely.", "names no candidate"),
    ('{"best": 4, "reason": "x"}', "not a candidate number from 1 to 3"),
    ('{"best": 0}', "not a candidate number"),
    ('{"best": true}', "not a candidate number"),
    ('{"best": "the second"}', "not a candidate number"),
    ("best: 7", "not a candidate number"),
    ("Candidate 2 is better than candidate 1.", "several candidates [1, 2]"),
    (" quametim fin dametim", "names no candidate"),
])
def test_parser_abstains_on_unclear_answers(answer, why):
    pick, reason = parse_answer(answer, 3)
    assert pick is None and why in reason and "abstained" in reason


# -- the openai backend against a local stub server -------------------------------------------------------------------

def chat_answer(content):
    return lambda handler: (200, {"Content-Type": "application/json"},
                            json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode())


def test_openai_judge_sends_one_data_url_per_candidate_and_the_key(tiny, monkeypatch, stub_server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with stub_server(chat_answer('{"best": 3, "reason": "steady"}')) as (url, requests):
        result = Judge(tiny, "b", backend="openai", base_url=url)("a square", CANDIDATES, "temporal_flickering")
    assert (result.judge, result.backend, result.pick, result.reason) == ("qwen2-vl", "openai", 2, "steady")
    (request,) = requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = json.loads(request["body"])
    assert body["model"] == "qwen2-vl" and body["max_tokens"] == tiny.judge.max_new_tokens
    parts = body["messages"][0]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 3 and all(u.startswith("data:image/png;base64,") for u in images)
    labels = [p["text"] for p in parts if p["type"] == "text"]
    assert labels[1:4] == ["Candidate 1:", "Candidate 2:", "Candidate 3:"] and "temporal flickering" in labels[-1]


def test_openai_judge_sends_no_key_when_none_is_set(tiny, monkeypatch, stub_server):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with stub_server(chat_answer("Candidate 1 is clearly the best.")) as (url, requests):
        result = Judge(tiny, "a", backend="openai", base_url=url)("a square", CANDIDATES, "imaging_quality")
    assert result.pick == 0 and result.judge == "llava-onevision"
    assert "Authorization" not in requests[0]["headers"]


def test_openai_redirect_is_refused_and_the_key_stays_home(tiny, monkeypatch, stub_server):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with stub_server(chat_answer('{"best": 1}')) as (elsewhere, stolen):
        redirect = lambda handler: (302, {"Location": f"{elsewhere}/chat/completions"}, b"")
        with stub_server(redirect) as (url, requests):
            with pytest.raises(BackendError) as info:
                Judge(tiny, "a", backend="openai", base_url=url)("a square", CANDIDATES, "imaging_quality")
    message = str(info.value)
    assert "redirect" in message and elsewhere in message and "\n" not in message
    assert len(requests) == 1 and stolen == []


def test_openai_refused_port_names_the_url_and_the_fix(tiny):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendError) as info:
        Judge(tiny, "a", backend="openai", base_url=url, timeout=5)("a square", CANDIDATES, "imaging_quality")
    message = str(info.value)
    assert f"{url}/chat/completions" in message and "judge_backend='metrics'" in message and "\n" not in message


def test_openai_answer_in_another_format_is_a_one_line_error(tiny, stub_server):
    with stub_server(lambda handler: (200, {}, b'{"answer": "1"}')) as (url, _):
        with pytest.raises(BackendError, match="chat-completions format"):
            Judge(tiny, "a", backend="openai", base_url=url)("a square", CANDIDATES, "imaging_quality")


# -- the metrics backend ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("criterion", ["motion_smoothness", "temporal_flickering"])
@pytest.mark.parametrize("smooth_first", [True, False])
def test_metrics_judge_picks_the_smoother_video(tiny, criterion, smooth_first):
    candidates = [smooth_video(), noisy_video()] if smooth_first else [noisy_video(), smooth_video()]
    result = Judge(tiny)("a white square gliding right", candidates, criterion)
    assert (result.judge, result.backend) == ("metrics-a", "metrics")
    assert result.pick == (0 if smooth_first else 1)
    scores = json.loads(result.raw)["scores"]
    assert len(scores) == 2 and scores[result.pick] > scores[1 - result.pick]
    json.dumps(asdict(result))


@pytest.mark.parametrize("criterion", ["prompt_faithfulness", "aesthetic_quality", "temporal_style", "overall_quality"])
def test_metrics_judge_abstains_where_no_offline_metric_exists(tiny, criterion):
    result = Judge(tiny, "b")("a white square", [smooth_video(), noisy_video()], criterion)
    assert result.abstained and result.reason.startswith(f"no offline metric for {criterion}")


def test_metrics_judge_abstains_on_a_tie(tiny):
    result = Judge(tiny)("a white square", [smooth_video(), smooth_video(), noisy_video()], "motion_smoothness")
    assert result.abstained and "tie" in result.reason and "[1, 2]" in result.reason
    assert len(json.loads(result.raw)["scores"]) == 3


# -- bad input -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda p: Judge(p)("  ", CANDIDATES, "motion_smoothness"), "prompt is empty"),
    (lambda p: Judge(p)("a fox", CANDIDATES[:1], "motion_smoothness"), "at least 2 candidate videos; got 1"),
    (lambda p: Judge(p)("a fox", CANDIDATES[0], "motion_smoothness"), "at least 2 candidate videos; got 1"),
    (lambda p: Judge(p)("a fox", CANDIDATES, "beauty"), "unknown criterion 'beauty'; choose one of"),
    (lambda p: Judge(p)("a fox", [CANDIDATES[0], 3], "motion_smoothness"), "expected a Video"),
    (lambda p: Judge(p, backend="gpt"), "unknown judge backend 'gpt'"),
    (lambda p: Judge(p, which="c"), "unknown judge 'c'"),
    (lambda p: Judge(p, frames=0), "frames per candidate must be at least 1"),
])
def test_bad_input_is_a_one_line_error(tiny, call, match):
    with pytest.raises(InputError, match=match) as info:
        call(tiny)
    assert "\n" not in str(info.value)


def test_a_missing_judge_model_names_the_field(tiny):
    from moranb.errors import ModelNotAvailableError

    profile = tiny.with_model("judge_b", Model("/nonexistent/qwen2-vl"))
    with pytest.raises(ModelNotAvailableError, match="/nonexistent/qwen2-vl.*'judge_b'"):
        Judge(profile, "b", backend="transformers")("a fox", CANDIDATES, "imaging_quality")
