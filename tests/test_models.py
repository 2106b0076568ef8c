import time

import pytest

from moranb import models
from moranb.agents import ConnectionAgent, ImageToImageAgent, ImageToVideoAgent, PromptAgent, TextToImageAgent
from moranb.config import Model, full_profile
from moranb.errors import ModelNotAvailableError


def test_every_agent_loads_through_from_pretrained(tiny, monkeypatch):
    """The tiny profile goes through the same `from_pretrained` call the full profile makes with hub ids."""
    models.clear()
    calls = []
    real = models.from_pretrained

    def spy(cls, model, field, **kwargs):
        calls.append((cls.__name__, model.source, field))
        return real(cls, model, field, **kwargs)

    monkeypatch.setattr(models, "from_pretrained", spy)
    TextToImageAgent(tiny).refiner  # loads base and refiner
    ImageToImageAgent(tiny).pipe
    ImageToVideoAgent(tiny).pipe
    ConnectionAgent(tiny).pipe
    PromptAgent(tiny, backend="transformers")("a fox")
    got = {(name, field) for name, source, field in calls}
    assert got == {
        ("StableDiffusionXLPipeline", "text_to_image"), ("StableDiffusionXLImg2ImgPipeline", "refiner"),
        ("StableDiffusionInstructPix2PixPipeline", "image_to_image"),
        ("StableVideoDiffusionPipeline", "image_to_video"), ("LTXConditionPipeline", "connection"),
        ("AutoTokenizer", "llm"), ("AutoModelForCausalLM", "llm"),
    }
    assert all(source.startswith(str(tiny.text_to_image.model.source).rsplit("/", 1)[0]) for _, source, _ in calls)


def test_a_model_is_loaded_once_per_process(tiny, monkeypatch):
    first = ImageToVideoAgent(tiny).pipe
    monkeypatch.setattr(models, "from_pretrained", lambda *a, **k: pytest.fail("loaded twice"))
    assert ImageToVideoAgent(tiny).pipe is first
    assert TextToImageAgent(tiny).refiner.vae is TextToImageAgent(tiny).pipe.vae  # refiner shares the base's VAE


def test_hub_id_offline_fails_fast_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    profile = full_profile().replace(device="cpu", dtype="float32")
    start = time.perf_counter()
    with pytest.raises(ModelNotAvailableError) as info:
        ImageToVideoAgent(profile).pipe
    message = str(info.value)
    assert "stabilityai/stable-video-diffusion-img2vid-xt" in message
    assert "offline" in message and "local" in message and "\n" not in message
    assert time.perf_counter() - start < 30


def test_a_gpu_profile_without_a_gpu_fails_before_loading(tiny, monkeypatch):
    import torch

    from moranb.errors import DeviceError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "from_pretrained", lambda *a, **k: pytest.fail("loaded before the device check"))
    gpu = tiny.replace(name="full", device="cuda", dtype="float16",
                       image_to_video=dict(model=Model(tiny.image_to_video.model.source + "/")))
    with pytest.raises(DeviceError, match="no.*use profile 'tiny'|has none; use profile 'tiny'"):
        ImageToVideoAgent(gpu).pipe


def test_missing_local_directory_is_named(tiny):
    profile = tiny.with_model("image_to_video", Model("/nonexistent/svd"))
    with pytest.raises(ModelNotAvailableError, match="/nonexistent/svd.*does not exist"):
        ImageToVideoAgent(profile).pipe


def test_the_videoti_models_live_in_the_one_cache_and_clear_frees_them(monkeypatch):
    from moranb.eval.videoti import _captioner, _encoder

    class Fake:
        def eval(self):
            return self

    loads = []
    monkeypatch.setattr(models, "from_pretrained", lambda cls, model, field, **kw: loads.append(cls.__name__) or Fake())
    models.clear()
    _captioner("some/captioner"), _encoder("some/encoder")
    _captioner("some/captioner"), _encoder("some/encoder")
    assert sorted(loads) == ["AutoModel", "AutoTokenizer", "BlipForConditionalGeneration", "BlipProcessor"]
    assert {key[0] for key in models._LOADED} == {"videoti captioner", "videoti text encoder"}
    models.clear()
    assert not models._LOADED
    _captioner("some/captioner")
    assert len(loads) == 6  # loaded again after clear()
