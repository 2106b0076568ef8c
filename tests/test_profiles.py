import json
from pathlib import Path

import pytest

from moranb import get_profile
from moranb.config import Model, full_profile, lowvram_profile
from moranb.errors import InputError, ModelNotAvailableError


def test_full_profile_names_the_papers_models_and_settings():
    p = full_profile()
    assert p.text_to_image.model == Model("stabilityai/stable-diffusion-xl-base-1.0", "fp16")
    assert p.text_to_image.refiner == Model("stabilityai/stable-diffusion-xl-refiner-1.0", "fp16")
    assert p.image_to_image.model.source == "timbrooks/instruct-pix2pix"
    assert p.image_to_video.model == Model("stabilityai/stable-video-diffusion-img2vid-xt", "fp16")
    assert p.connection.model.source.startswith("Lightricks/LTX-Video") and p.connection.model.dtype == "bfloat16"
    assert (p.device, p.dtype) == ("cuda", "float16")
    assert (p.width, p.height, p.text_to_image.steps, p.text_to_image.refiner_split) == (1024, 576, 40, 0.8)
    assert (p.image_to_video.frames_per_segment, p.image_to_video.segments, p.fps) == (25, 3, 7)
    assert (p.image_to_video.motion_bucket_id, p.image_to_video.noise_aug_strength, p.image_to_video.decode_chunk_size) == (180, 0.1, 8)
    assert p.connection.prompt == "smooth transition"
    assert (p.connection.frames - 1) % 8 == 0


def test_lowvram_profile_offloads_and_slices():
    p = lowvram_profile()
    assert p.offload == "model" and p.offloads and p.vae_slicing and p.image_to_video.decode_chunk_size <= 4
    assert not full_profile().offloads and not get_profile("tiny", offload="model").offloads  # nothing on a CPU
    assert p.image_to_video.model == full_profile().image_to_video.model


def test_overrides_and_unknown_names():
    assert get_profile("full", image_to_video=dict(segments=1)).image_to_video.segments == 1
    with pytest.raises(InputError, match="unknown profile setting"):
        get_profile("full", segmentz=1)
    with pytest.raises(InputError, match=r"unknown image_to_video setting\(s\) \['segmentz'\]"):
        get_profile("full", image_to_video=dict(segmentz=1))
    # A model by its name, wherever its role keeps it.
    assert get_profile("tiny").with_model("judge_b", None).judge.b is None
    assert get_profile("mini").model("refiner") is None and get_profile("full").model("llm").source.startswith("meta")
    with pytest.raises(InputError, match="unknown profile 'huge'"):
        get_profile("huge")


# The tiny models are saved pipelines of exactly the classes the real hub repos declare in model_index.json.
REAL_CLASSES = {
    "text_to_image": "StableDiffusionXLPipeline",
    "refiner": "StableDiffusionXLImg2ImgPipeline",
    "image_to_image": "StableDiffusionInstructPix2PixPipeline",
    "image_to_video": "StableVideoDiffusionPipeline",
    "connection": "LTXConditionPipeline",
}
REAL_COMPONENTS = {
    "text_to_image": {"unet": "UNet2DConditionModel", "vae": "AutoencoderKL", "text_encoder": "CLIPTextModel",
                      "text_encoder_2": "CLIPTextModelWithProjection", "tokenizer": "CLIPTokenizer",
                      "scheduler": "EulerDiscreteScheduler"},
    "image_to_video": {"unet": "UNetSpatioTemporalConditionModel", "vae": "AutoencoderKLTemporalDecoder",
                       "image_encoder": "CLIPVisionModelWithProjection", "scheduler": "EulerDiscreteScheduler"},
    "connection": {"transformer": "LTXVideoTransformer3DModel", "vae": "AutoencoderKLLTXVideo",
                   "text_encoder": "T5EncoderModel", "scheduler": "FlowMatchEulerDiscreteScheduler"},
}


@pytest.mark.parametrize("field", sorted(REAL_CLASSES))
def test_tiny_models_are_the_real_classes(tiny, field):
    index = json.loads((Path(tiny.model(field).source) / "model_index.json").read_text())
    assert index["_class_name"] == REAL_CLASSES[field]
    for name, cls in REAL_COMPONENTS.get(field, {}).items():
        assert index[name][1] == cls, name


def test_tiny_llm_is_a_causal_lm_with_a_chat_template(tiny):
    config = json.loads((Path(tiny.prompt.model.source) / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny.prompt.model.source)
    text = tok.apply_chat_template([{"role": "user", "content": "a fox"}], tokenize=False, add_generation_prompt=True)
    assert "a fox" in text and text.endswith("assistant<|end_header_id|>\n\n")


def test_tiny_clip_tokenizer_is_clips_real_vocabulary(tiny):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(tiny.text_to_image.model.source, subfolder="tokenizer")
    assert len(tok) == 49408
    ids = tok("a photo of a cat").input_ids
    # The ids OpenAI's CLIP tokenizer gives: <start> a photo of a cat <end>.
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_tiny_models_build_from_scratch_identically(tmp_path, tiny):
    from safetensors.torch import load_file

    from moranb.agents import TINY_MODELS, ensure_tiny_models

    ensure_tiny_models(tmp_path)
    for part in TINY_MODELS:
        assert (tmp_path / part / ".complete").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary build folder left behind"
    # Seeded builds: the same weights on every machine, so the same seed gives the same frames everywhere.
    for rel in ("svd-xt/unet/diffusion_pytorch_model.safetensors", "sdxl-base/text_encoder_2/model.safetensors"):
        fresh, cached = load_file(tmp_path / rel), load_file(Path(tiny.text_to_image.model.source).parent / rel)
        assert fresh.keys() == cached.keys()
        assert all(fresh[k].equal(cached[k]) for k in fresh), rel


def test_looking_up_the_tiny_profile_builds_nothing(tmp_path, monkeypatch):
    from moranb.tiny import tiny_root

    monkeypatch.setenv("MORANB_CACHE", str(tmp_path))
    p = get_profile("tiny")
    assert Path(p.image_to_video.model.source).parent == tiny_root() == tmp_path / tiny_root().name
    assert list(tmp_path.iterdir()) == []


def test_a_missing_tiny_model_is_built_where_it_is_first_loaded(tmp_path, monkeypatch):
    from moranb import models, tiny

    monkeypatch.setenv("MORANB_CACHE", str(tmp_path))
    built = []

    def fake_build(out):  # stands in for the seconds of building the model (its role's builder, in a temporary folder)
        built.append(out.parent)
        (out / "marker").write_text("built")

    class Loader:
        @staticmethod
        def from_pretrained(path, **kwargs):
            return path

    assert models.from_pretrained(Loader, get_profile("tiny").image_to_video.model, "image_to_video",
                                  tiny_builds={"svd-xt": fake_build}) == str(tiny.tiny_root() / "svd-xt")
    assert built == [tiny.tiny_root()]
    assert (tiny.tiny_root() / "svd-xt" / "marker").is_file() and (tiny.tiny_root() / "svd-xt" / ".complete").is_file()
    assert not [p for p in tiny.tiny_root().iterdir() if p.name.startswith(".")], "temporary build folder left behind"
    # The agents pass their role's builds: loading the tiny profile's image-to-video model builds only its folder.
    from moranb.agents import ROLES

    assert {"svd-xt", "wan-i2v-a14b"} <= ROLES["image_to_video"].tiny.keys()  # SVD's and Wan's, by folder name
    assert {p.name for p in tiny.tiny_root().iterdir()} == {"svd-xt"}
    # A missing folder anywhere else is an error naming it, never a build.
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        models.from_pretrained(Loader, Model(str(tmp_path / "elsewhere" / "svd-xt")), "image_to_video",
                               tiny_builds={"svd-xt": fake_build})
    assert built == [tiny.tiny_root()]
