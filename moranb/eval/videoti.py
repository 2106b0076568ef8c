"""VideoTI (the paper's text-conditioned image-to-video metric).

A captioner describes the input image; its caption is prefixed to the instruction (T_mix); a captioner describes the
output video (T_v); the score is the cosine of BERT's sentence embeddings of T_mix and T_v.

The models are plain Hugging Face ones loaded through moranb's one loading path (so offline they fail with the
usual one-line error) and kept in its one cache (`moranb.models.clear()` frees them): an image captioner (BLIP by
default) and BERT (mean-pooled last hidden states). The paper used a video captioner for T_v; here the output
video's middle frame is captioned, which misses motion words. $MORANB_VIDEOTI_CAPTIONER and
$MORANB_VIDEOTI_TEXT_ENCODER name other models or local copies (a hub id or a directory). offline: no value.
"""

from __future__ import annotations

import os

from .. import models
from ..checks import check_prompt
from ..config import Model
from ..video import as_image
from .core import Score, check_backend, unavailable

CAPTIONER = "Salesforce/blip-image-captioning-base"
TEXT_ENCODER = "google-bert/bert-base-uncased"


def _captioner(source: str):
    def build():
        from transformers import BlipForConditionalGeneration, BlipProcessor

        model, fix = Model(source), "os.environ['MORANB_VIDEOTI_CAPTIONER'] = '/path/to/blip'"
        return (models.from_pretrained(BlipProcessor, model, "videoti captioner", fix=fix),
                models.from_pretrained(BlipForConditionalGeneration, model, "videoti captioner", fix=fix).eval())

    processor, model = models.cached(("videoti captioner", source), build)

    def caption(image) -> str:
        import torch

        with torch.no_grad():
            out = model.generate(**processor(images=image, return_tensors="pt"), max_new_tokens=30)
        return processor.decode(out[0], skip_special_tokens=True)

    return caption


def _encoder(source: str):
    def build():
        from transformers import AutoModel, AutoTokenizer

        model, fix = Model(source), "os.environ['MORANB_VIDEOTI_TEXT_ENCODER'] = '/path/to/bert'"
        return (models.from_pretrained(AutoTokenizer, model, "videoti text encoder", fix=fix),
                models.from_pretrained(AutoModel, model, "videoti text encoder", fix=fix).eval())

    tokenizer, model = models.cached(("videoti text encoder", source), build)

    def embed(text: str):
        import torch

        with torch.no_grad():
            batch = tokenizer(text, return_tensors="pt", truncation=True)
            hidden = model(**batch).last_hidden_state[0]
        return hidden.mean(dim=0)

    return embed


def videoti(image, instruction: str, video, backend: str = "offline", caption=None, embed=None) -> Score:
    """`caption(PIL image) -> str` and `embed(str) -> 1-D tensor` default to BLIP and BERT."""
    check_backend(backend)
    instruction = check_prompt(instruction, "instruction")
    if backend == "offline":
        return unavailable("videoti", backend, "needs a captioner and BERT; use backend='vbench'")
    import torch

    caption = caption or _captioner(os.environ.get("MORANB_VIDEOTI_CAPTIONER") or CAPTIONER)
    embed = embed or _encoder(os.environ.get("MORANB_VIDEOTI_TEXT_ENCODER") or TEXT_ENCODER)
    t_mix = f"{caption(as_image(image))} {instruction}"
    t_v = caption(video.frame(len(video) // 2))
    a, b = embed(t_mix).float(), embed(t_v).float()
    return Score("videoti", float(torch.nn.functional.cosine_similarity(a, b, dim=0)), backend)
