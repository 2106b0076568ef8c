"""The prompt agent: rewrites a short user prompt into the detailed one the other agents work from.

Three backends, chosen by `profile.prompt.backend` or the `backend` argument:
- "transformers": a local causal LM (an instruct model in `full`, a random-weight one in `tiny`), chat template,
  greedy decoding;
- "openai": any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, hosted APIs); the key, if any, is read
  from $OPENAI_API_KEY;
- "rule": no model at all: the prompt plus a fixed set of detail phrases (what a teacher can run anywhere);
- "plugin": the profile's plugin module writes them (`Profile.plugin`; the `mini` profile's writes captions in the
  MoraMini world's grammar).

It also writes new prompts (`write_prompts`), the first step of the paper's data-free training: the LLM invents the
prompts the pipeline then makes candidate videos for. The "rule" backend draws them from a small seeded grammar.
"""

from __future__ import annotations

import json
import os
import random
import re
import urllib.error

from ... import models
from ...checks import check_count, check_prompt
from ...config import Profile
from ...errors import BackendError, InputError
from ...http import EndpointDown, post_json
from .tiny import BUILDS


SYSTEM_PROMPT = (
    "You are the prompt agent of a video generation system. Rewrite the user's prompt into one detailed prompt "
    "for a text-to-image and image-to-video model: keep every subject and action the user named, add the setting, "
    "lighting, camera and motion. Answer with the prompt only, in one paragraph of at most 60 words."
)
DETAILS = "highly detailed, cinematic lighting, natural colors, smooth camera motion, sharp focus"
BACKENDS = ("transformers", "openai", "rule", "plugin")
WRITER_PROMPT = (
    "You write prompts for a text-to-video model. Write {n} distinct prompts for short videos, each one sentence of "
    "at most 20 words with a subject, an action and a setting; vary subjects, motions and places. Answer with the "
    "prompts only, one per line."
)
# The "rule" writer's grammar: 12 x 12 x 12 combinations, enough for rounds of 16, 32 and 48 prompts.
SUBJECTS = ("a red fox", "a paper boat", "an old fisherman", "a hot air balloon", "a golden retriever",
            "a steam train", "a ballet dancer", "a sea turtle", "a kite", "a robot vacuum", "a flock of sparrows",
            "a skateboarder")
ACTIONS = ("moving slowly to the left", "racing past the camera", "turning in a circle", "rising into the air",
           "drifting with the wind", "jumping over a puddle", "walking towards the camera", "spinning in place",
           "sliding downhill", "floating gently", "running along a path", "stopping and looking around")
SETTINGS = ("on a snowy mountain", "in a rainy city street", "on a sunny beach", "in a misty forest",
            "at a night market", "in a desert at sunset", "on a frozen lake", "in a field of sunflowers",
            "inside an old library", "under a starry sky", "beside a waterfall", "in a neon-lit alley")


def with_style(prompt: str, style: str | None) -> str:
    return f"{prompt}, in the style of {style}" if style else prompt


class PromptAgent:
    def __init__(self, profile: Profile, backend: str | None = None, base_url: str | None = None,
                 model: str | None = None, timeout: float = 60.0):
        self.profile = profile
        self.backend = backend or profile.prompt.backend
        if self.backend not in BACKENDS:
            raise InputError(f"unknown prompt backend '{self.backend}'; choose one of {list(BACKENDS)}")
        self.base_url = (base_url or profile.openai_base_url).rstrip("/")
        self.model = model or profile.prompt.openai_model
        self.timeout = timeout

    def __call__(self, prompt: str, style: str | None = None) -> str:
        """The enhanced prompt for `prompt` (and a digital-world `style`, if given)."""
        prompt = with_style(check_prompt(prompt), style)
        if self.backend == "rule":
            return f"{prompt}, {DETAILS}"
        if self.backend == "plugin":
            return self.profile.plugin_module("the prompt agent's 'plugin' backend").caption(prompt)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        reply = self._chat_openai(messages) if self.backend == "openai" else self._chat_transformers(messages)
        reply = " ".join(reply.split()).strip().strip('"')
        # A model that answers nothing usable leaves the user's prompt as it was rather than an empty one.
        return reply or prompt

    def write_prompts(self, n: int, seed: int = 0, avoid=()) -> list[str]:
        """`n` new, distinct video prompts, none of them in `avoid` (the prompts of earlier rounds)."""
        n = check_count(n, "number of prompts")
        seen = {p.strip().lower() for p in avoid}
        if self.backend == "rule":
            rng = random.Random(seed)
            combos = [f"{s} {a} {w}" for s in SUBJECTS for a in ACTIONS for w in SETTINGS]
            rng.shuffle(combos)
            fresh = [c for c in combos if c.lower() not in seen][:n]
        elif self.backend == "plugin":
            fresh = self.profile.plugin_module("the prompt agent's 'plugin' backend").write_prompts(n, seed, seen)
        else:
            system = WRITER_PROMPT.format(n=n)
            ask = f"Write {n} prompts." + (f" Avoid these, already used: {'; '.join(avoid)}" if avoid else "")
            messages = [{"role": "system", "content": system}, {"role": "user", "content": ask}]
            reply = self._chat_openai(messages) if self.backend == "openai" else self._chat_transformers(
                messages, max_new_tokens=max(self.profile.prompt.max_new_tokens, 40 * n))
            fresh = []
            for line in reply.splitlines():
                # "1. a fox ...", "- a fox ...", "\"a fox ...\"" -> "a fox ..."
                line = re.sub(r"^\s*(?:\d+[.):]|[-*•])\s*", "", line).strip().strip('"').strip()
                if len(line.split()) >= 3 and line.lower() not in seen:
                    seen.add(line.lower())
                    fresh.append(line)
            fresh = fresh[:n]
        if len(fresh) < n:
            raise BackendError(
                f"the prompt agent ({self.backend}) wrote {len(fresh)} usable new prompts of the {n} asked for; "
                f"ask for fewer, or use prompt_backend='rule'")
        return fresh

    def _chat_transformers(self, messages, max_new_tokens: int | None = None) -> str:
        import torch

        tokenizer, lm = models.load_llm(self.profile.prompt.model, self.profile, tiny_builds=BUILDS)
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
        inputs = {k: v.to(lm.device) for k, v in inputs.items()}
        with torch.inference_mode():
            out = lm.generate(**inputs, max_new_tokens=max_new_tokens or self.profile.prompt.max_new_tokens,
                              do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def _chat_openai(self, messages) -> str:
        url = f"{self.base_url}/chat/completions"
        body = {"model": self.model, "messages": messages, "temperature": 0}
        try:
            data = post_json(url, body, self.timeout, "prompt endpoint")
            content = data["choices"][0]["message"]["content"]
            if content is not None and not isinstance(content, str):
                raise TypeError(content)
            return content or ""
        except urllib.error.HTTPError as exc:
            raise BackendError(f"prompt endpoint {url} answered HTTP {exc.code}; check the model name "
                               f"'{self.model}' and the API key") from None
        except EndpointDown as exc:
            raise BackendError(f"prompt endpoint {url} did not answer ({exc.reason}); start the server "
                               f"(e.g. `ollama serve`) or use prompt_backend='rule'") from None
        except (KeyError, IndexError, TypeError, ValueError):
            raise BackendError(f"prompt endpoint {url} did not answer in the OpenAI chat-completions format") from None
