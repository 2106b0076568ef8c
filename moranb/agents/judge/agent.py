"""The judge agents: a multimodal LLM picks the best of k candidate videos for a prompt under one criterion.

The paper's data-free training makes k candidates per prompt and asks two judges, LLaVA-OneVision (`which="a"`) and
Qwen2-VL (`which="b"`), for a top-1 each under a criterion drawn from `CRITERIA`; a sample is kept when they agree.
Each candidate is shown as one image, `frames` evenly spaced frames side by side, and the judge answers
`{"best": <1..k>, "reason": "..."}`. An answer that names no single valid candidate is an abstention (`pick=None`,
the reason says why), never a guess.

Four backends, chosen by `profile.judge.backend` or the `backend` argument:
- "transformers": the profile's `judge_a`/`judge_b` loaded through `moranb.models.load_vlm`, the processor's chat
  template, greedy decoding;
- "openai": any OpenAI-compatible chat-completions endpoint serving a vision model (vLLM, Ollama), images sent as
  PNG data URLs, the key read from $OPENAI_API_KEY. Redirects are refused, so the key is never sent elsewhere;
- "metrics": no model (the tiny profile's default, where a random-weight VLM answers noise): the candidate with the
  highest offline `moranb.eval` score for the criterion, higher being better for each:
    subject_consistency, background_consistency, motion_smoothness, temporal_flickering, imaging_quality: the
      metric of the same name (offline backend);
    dynamic_degree: the flow behind the metric, before VBench's threshold (mean over sampled frame pairs of the
      top-5 % Farneback magnitudes): the thresholded 0/1 would tie almost every set;
    prompt_faithfulness, aesthetic_quality, temporal_style, overall_quality: abstention (no weight-free stand-in;
      overall_quality would be the paper's VQ, which needs aesthetic quality).
  A tie at the top is an abstention too. Two metrics judges differ only by the criterion each draws: they agree when
  their metrics rank the same candidate first. That exercises a data round end to end; it does not replace two
  independent opinions;
- "plugin": the profile's plugin judges (`Profile.plugin`: the `mini` profile's are a trained classifier and pixel
  rules that read the mini world, `moranb.mini.judging`), under the plugin's own criteria (its `CRITERIA`).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ... import models
from ...checks import check_count, check_prompt
from ...config import Profile
from ...errors import BackendError, InputError
from ...http import EndpointDown, post_json
from ...video import Video, as_video
from .tiny import BUILDS


CRITERIA = {
    "prompt_faithfulness": "the video shows everything the prompt describes: its subjects, their actions, the setting.",
    "subject_consistency": "the main subject keeps the same appearance and identity from the first frame to the last.",
    "background_consistency": "the background stays the same place throughout, without morphing or jumping.",
    "motion_smoothness": "motion is smooth and physically plausible, without jerks, stutters or jumps between frames.",
    "temporal_flickering": "no flicker: brightness, colour and texture do not change abruptly from frame to frame.",
    "dynamic_degree": "the video really moves: a clearly moving subject or camera rather than a nearly still image.",
    "imaging_quality": "the frames are technically good: sharp, clean, well exposed, without noise, blur or artefacts.",
    "aesthetic_quality": "the frames are beautiful: composition, colour, lighting and artistic appeal.",
    "temporal_style": "the motion and camera work match the style the prompt asks for (a pan, a zoom, slow motion...).",
    "overall_quality": "the best video overall, weighing faithfulness to the prompt, consistency, motion and images.",
}
BACKENDS = ("transformers", "openai", "metrics", "plugin")
MAX_IMAGE_WIDTH = 1344  # a candidate's strip is shrunk to this: k of them stay within the real judges' image budgets
NO_OFFLINE_METRIC = {
    "prompt_faithfulness": "matching a video to its prompt needs a learned video-text model",
    "aesthetic_quality": "a learned judgement (moranb.eval.aesthetic_quality has no offline value)",
    "temporal_style": "matching motion to the prompt's style needs ViCLIP",
    "overall_quality": "the paper's VQ averages six dimensions including aesthetic quality, which has none",
}


@dataclass
class Judgement:
    judge: str  # who judged: the model's name, or "metrics-a"/"metrics-b"
    backend: str
    criterion: str
    pick: int | None  # 0-based index of the best candidate; None: the judge abstained
    reason: str
    raw: str  # the model's answer exactly as given, or the metric's scores as JSON

    @property
    def abstained(self) -> bool:
        return self.pick is None


class Judge:
    def __init__(self, profile: Profile, which: str = "a", backend: str | None = None, base_url: str | None = None,
                 model: str | None = None, frames: int = 4, timeout: float = 60.0):
        if which not in ("a", "b"):
            raise InputError(f"unknown judge '{which}'; choose 'a' (judge_a, LLaVA-OneVision) or 'b' (judge_b, "
                             f"Qwen2-VL)")
        self.profile, self.which = profile, which
        self.backend = backend or profile.judge.backend
        if self.backend not in BACKENDS:
            raise InputError(f"unknown judge backend '{self.backend}'; choose one of {list(BACKENDS)}")
        self.field = f"judge_{which}"
        self.base_url = (base_url or profile.openai_base_url).rstrip("/")
        self.openai_model = model or profile.judge.openai_models["ab".index(which)]
        self.frames = check_count(frames, "frames per candidate")
        self.timeout = timeout
        self.hooks = profile.plugin_module("the judges' 'plugin' backend") if self.backend == "plugin" else None
        self.criteria = self.hooks.CRITERIA if self.hooks else CRITERIA  # what a round draws a criterion from
        self.name = {"transformers": Path(profile.model(self.field).source).name, "openai": self.openai_model,
                     "metrics": f"metrics-{which}",
                     "plugin": self.hooks.JUDGES[which] if self.hooks else ""}[self.backend]

    def __call__(self, prompt: str, candidates: list[Video], criterion: str) -> Judgement:
        """The best of `candidates` (Videos or video files) for `prompt` under `criterion`, or an abstention."""
        prompt = check_prompt(prompt)
        if criterion not in self.criteria:
            raise InputError(f"unknown criterion '{criterion}'; choose one of {list(self.criteria)}")
        candidates = [candidates] if isinstance(candidates, (Video, str, os.PathLike)) else list(candidates)
        if len(candidates) < 2:
            raise InputError(f"a judge compares at least 2 candidate videos; got {len(candidates)}: pass a list of "
                             f"them")
        candidates = [as_video(c) for c in candidates]
        if self.backend == "metrics":
            return self._by_metric(candidates, criterion)
        if self.backend == "plugin":
            return self.hooks.judge(self.which, prompt, candidates, criterion)
        content = judge_content(prompt, criterion, [candidate_image(v, self.frames) for v in candidates], self.frames)
        answer = self._ask_openai(content) if self.backend == "openai" else self._ask_transformers(content)
        pick, reason = parse_answer(answer, len(candidates))
        return Judgement(self.name, self.backend, criterion, pick, reason, answer)

    def _ask_transformers(self, content: list[dict]) -> str:
        import torch

        processor, vlm = models.load_vlm(self.profile.model(self.field), self.profile, self.field,
                                         tiny_builds=BUILDS)
        messages = [{"role": "user", "content": [p if p["type"] == "text" else {"type": "image"} for p in content]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        images = [p["image"] for p in content if p["type"] == "image"]
        # One conversation holding all k images (nested list): LLaVA-OneVision's multi-image mode, one tile each.
        tokenizer = processor.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with models.on_device(vlm, self.profile), torch.inference_mode():  # on the GPU only while it judges
            inputs = processor(text=[text], images=[images], return_tensors="pt").to(vlm.device, dtype=vlm.dtype)
            out = vlm.generate(**inputs, max_new_tokens=self.profile.judge.max_new_tokens, do_sample=False,
                               pad_token_id=pad)
        return processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def _ask_openai(self, content: list[dict]) -> str:
        url = f"{self.base_url}/chat/completions"
        parts = [p if p["type"] == "text" else {"type": "image_url", "image_url": {"url": data_url(p["image"])}}
                 for p in content]
        body = {"model": self.openai_model, "messages": [{"role": "user", "content": parts}],
                "temperature": 0, "max_tokens": self.profile.judge.max_new_tokens}
        try:
            data = post_json(url, body, self.timeout, "judge endpoint")
            answer = data["choices"][0]["message"]["content"]
            if not isinstance(answer, str):
                raise TypeError(answer)
            return answer
        except urllib.error.HTTPError as exc:
            raise BackendError(f"judge endpoint {url} answered HTTP {exc.code}; check the model name "
                               f"'{self.openai_model}' (judge_openai_models) and the API key") from None
        except EndpointDown as exc:
            raise BackendError(f"judge endpoint {url} did not answer ({exc.reason}); start the server (e.g. `vllm "
                               f"serve {self.profile.model(self.field).source} --served-model-name "
                               f"{self.openai_model}`) or use judge_backend='metrics'") from None
        except (KeyError, IndexError, TypeError, ValueError):
            raise BackendError(f"judge endpoint {url} did not answer in the OpenAI chat-completions format") from None

    def _by_metric(self, candidates: list[Video], criterion: str) -> Judgement:
        def abstain(reason: str, raw: str = "") -> Judgement:
            return Judgement(self.name, "metrics", criterion, None, reason, raw)

        if criterion in NO_OFFLINE_METRIC:
            return abstain(f"no offline metric for {criterion}: {NO_OFFLINE_METRIC[criterion]}")
        scores = [offline_score(video, criterion) for video in candidates]
        missing = next((i for i, s in enumerate(scores) if s.value is None), None)
        if missing is not None:
            return abstain(f"offline {criterion} has no value for candidate {missing + 1}: {scores[missing].reason}")
        values = [s.value for s in scores]
        raw = json.dumps({"metric": scores[0].metric, "backend": "offline", "scores": [round(v, 6) for v in values]})
        best, runner_up = sorted(values, reverse=True)[:2]
        if best - runner_up <= 1e-6:
            tied = [i + 1 for i, v in enumerate(values) if best - v <= 1e-6]
            return abstain(f"candidates {tied} tie on offline {criterion} ({best:.4f}); no pick", raw)
        return Judgement(self.name, "metrics", criterion, int(np.argmax(values)),
                         f"highest offline {scores[0].metric}: {best:.4f} (next best {runner_up:.4f})", raw)


def offline_score(video: Video, criterion: str):
    """The `moranb.eval` offline Score the metrics judge ranks by (see the module docstring for the mapping)."""
    from ...eval import VIDEO_METRICS, Score
    from ...eval.dynamic_degree import farneback_scores, sampled

    if criterion == "dynamic_degree":
        frames = sampled(video)
        if len(frames) < 2:
            return Score("dynamic_degree_flow", None, "offline", "needs at least 2 frames")
        return Score("dynamic_degree_flow", float(np.mean(farneback_scores(frames))), "offline")
    return VIDEO_METRICS[criterion](video, "offline")


# -- what the model sees, and what it answers ----------------------------------------------------------------------

def candidate_image(video: Video, frames: int = 4, max_width: int = MAX_IMAGE_WIDTH) -> Image.Image:
    """`frames` evenly spaced frames side by side: pixels only (no index labels or caption, as `frame_strip` draws,
    which a model would read as content), shrunk to at most `max_width` pixels wide."""
    index = np.linspace(0, len(video) - 1, min(frames, len(video))).round().astype(int)
    strip = Image.fromarray(np.concatenate(list(video.frames[index]), axis=1))
    if strip.width > max_width:
        strip = strip.resize((max_width, max(1, round(strip.height * max_width / strip.width))), Image.LANCZOS)
    return strip


def judge_content(prompt: str, criterion: str, images: list[Image.Image], frames: int) -> list[dict]:
    """The user message: intro, then "Candidate i:" and its image for each, then the question and answer format.

    LLaVA-OneVision's chat template moves a turn's images before its text, so the intro also says the images come
    in candidate order.
    """
    k = len(images)
    content = [{"type": "text", "text": (
        f"You judge videos generated for the prompt \"{prompt}\". There are {k} candidate videos, each shown as one "
        f"image: {frames} frames from its start to its end, left to right. The images are the candidates in order: "
        f"the first image is candidate 1.")}]
    for i, image in enumerate(images, 1):
        content += [{"type": "text", "text": f"Candidate {i}:"}, {"type": "image", "image": image}]
    content.append({"type": "text", "text": (
        f"Criterion, {criterion.replace('_', ' ')}: {CRITERIA[criterion]} Which candidate is best by this "
        f"criterion? Answer with JSON only: {{\"best\": <a number from 1 to {k}>, \"reason\": \"<one sentence>\"}}")})
    return content


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_BEST = re.compile(r"\bbest\b\W{0,3}(-?\d+)", re.IGNORECASE)  # best: 2, "best": 2, Best = 2
_CANDIDATE = re.compile(r"\bcandidate\s*#?\s*(-?\d+)", re.IGNORECASE)  # Candidate 2, candidate #2


def parse_answer(answer: str, k: int) -> tuple[int | None, str]:
    """(0-based pick, reason) from a judge's answer, or (None, why not) when it names no single candidate 1..k.

    Accepted, in this order: a JSON object with "best" (also inside code fences or other text), "best: N", one
    "Candidate N". An answer naming several candidates, or a number out of range, is an abstention.
    """
    for blob in _JSON_OBJECT.findall(answer):
        try:
            data = json.loads(blob)
        except ValueError:
            continue
        if isinstance(data, dict) and "best" in data:
            return _candidate(data["best"], k, str(data.get("reason") or "").strip())
    for pattern in (_BEST, _CANDIDATE):
        named = sorted({int(n) for n in pattern.findall(answer)})
        if len(named) == 1:
            return _candidate(named[0], k, " ".join(answer.split()))
        if named:
            return None, f"the answer names several candidates {named}; abstained"
    return None, "the answer names no candidate (expected {\"best\": N, \"reason\": ...}); abstained"


def _candidate(value, k: int, reason: str) -> tuple[int | None, str]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= k:
        return None, f"the answer's pick {value!r} is not a candidate number from 1 to {k}; abstained"
    return value - 1, reason or "no reason given"
