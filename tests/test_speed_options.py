"""The profiles' GPU memory and speed options (offload, VAE tiling, compile, First Block Cache, the SDXL VAE, the
bf16 fallback), run on the tiny models on a CPU: what each does to the pipelines and the frames.

Their time and memory on a GPU: benchmarks/bench_gpu.py; their effect on the frames by moranb.eval:
benchmarks/bench_options.py.
"""

import shutil

import numpy as np
import pytest
import torch

from moranb import Model, get_profile, models
from moranb.agents import ConnectionAgent, TextToImageAgent
from moranb.errors import InputError

PROMPT = "a red fox running through fresh snow"


@pytest.fixture(autouse=True)
def fresh_models():
    models.clear()
    yield
    models.clear()


def ends():
    """A last frame of video A and a first frame of video B for the connection agent."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(2))
    return a, b


def test_group_offload_hooks_every_model_and_leaves_the_frames_alone(tiny):
    from diffusers.hooks.group_offloading import _is_group_offload_enabled

    base = np.asarray(TextToImageAgent(tiny)(PROMPT, seed=3))
    a, b = ends()
    base_clip = ConnectionAgent(tiny)(a, b, seed=3).frames
    models.clear()
    grouped = tiny.replace(offload="group")
    agent = TextToImageAgent(grouped)
    image = np.asarray(agent(PROMPT, seed=3))
    for part in (agent.pipe.unet, agent.pipe.vae, agent.pipe.text_encoder, agent.refiner.unet):
        assert _is_group_offload_enabled(part)
    assert agent.refiner.vae is agent.pipe.vae  # shared with the base, hooked once
    assert np.array_equal(image, base)  # CPU to CPU: the hooks move nothing, the arithmetic is the same
    assert np.array_equal(ConnectionAgent(grouped)(a, b, seed=3).frames, base_clip)


def test_vae_tiling_decodes_in_tiles(tiny, monkeypatch):
    from diffusers import AutoencoderKL

    calls = []
    tiled = AutoencoderKL.tiled_decode
    monkeypatch.setattr(AutoencoderKL, "tiled_decode", lambda self, *a, **k: calls.append(1) or tiled(self, *a, **k))
    plain = np.asarray(TextToImageAgent(tiny)(PROMPT, seed=1))
    assert not calls
    models.clear()
    agent = TextToImageAgent(tiny.replace(vae_tiling=True))
    image = np.asarray(agent(PROMPT, seed=1))
    assert calls and agent.pipe.vae.use_tiling  # 96 px is wider than the tiny VAE's 64 px tile
    assert image.shape == plain.shape
    assert ConnectionAgent(tiny.replace(vae_tiling=True)).pipe.vae.use_tiling


def test_slicing_and_tiling_pass_over_svds_temporal_vae(tiny):
    # lowvram slices every VAE; SVD's temporal VAE implements neither (diffusers raises if asked).
    from moranb.agents import ImageToVideoAgent

    pipe = ImageToVideoAgent(tiny.replace(vae_slicing=True, vae_tiling=True)).pipe
    assert not hasattr(pipe.vae, "use_slicing") and not hasattr(pipe.vae, "use_tiling")
    assert TextToImageAgent(tiny.replace(vae_slicing=True)).pipe.vae.use_slicing


def two_block_ltx(tiny, tmp_path):
    """The tiny LTX-Video with two transformer blocks (First Block Cache needs a first and a last)."""
    from diffusers import LTXVideoTransformer3DModel

    folder = tmp_path / "ltx-2"
    shutil.copytree(tiny.connection.model.source, folder)
    config = dict(LTXVideoTransformer3DModel.load_config(folder / "transformer"), num_layers=2)
    torch.manual_seed(0)
    LTXVideoTransformer3DModel.from_config(config).save_pretrained(folder / "transformer")
    return tiny.replace(connection=dict(model=Model(str(folder)), steps=6))


def test_first_block_cache_skips_blocks_and_resets_between_calls(tiny, tmp_path, monkeypatch):
    from diffusers.models.transformers.transformer_ltx import LTXVideoTransformerBlock

    p = two_block_ltx(tiny, tmp_path)
    calls = []
    forward = LTXVideoTransformerBlock.forward
    monkeypatch.setattr(LTXVideoTransformerBlock, "forward", lambda self, *a, **k: calls.append(1) or forward(self, *a, **k))
    a, b = ends()
    plain = ConnectionAgent(p)(a, b, seed=2).frames
    plain_calls = len(calls)
    assert plain_calls == 2 * 6  # two blocks (classifier-free guidance in one batch) x six steps
    calls.clear()
    cached = p.replace(first_block_cache=0.9)  # a loose threshold: every step after the first reuses the tail
    first = ConnectionAgent(cached)(a, b, seed=2).frames
    assert len(calls) < plain_calls
    assert not np.array_equal(first, plain) and first.shape == plain.shape
    again = ConnectionAgent(cached)(a, b, seed=2).frames
    assert np.array_equal(again, first)  # the cache starts empty on every call: same seed, same frames
    models.clear()
    calls.clear()
    strict = ConnectionAgent(p.replace(first_block_cache=1e-9))(a, b, seed=2).frames
    assert len(calls) == plain_calls and np.array_equal(strict, plain)  # nothing close enough: nothing reused


def test_compile_wraps_the_denoisers_repeated_blocks(tiny):
    from diffusers.models.attention import BasicTransformerBlock

    pipe = TextToImageAgent(tiny.replace(compile=True)).pipe
    blocks = [m for m in pipe.unet.modules() if isinstance(m, BasicTransformerBlock)]
    assert blocks and all(m._compiled_call_impl is not None for m in blocks)
    assert pipe.vae._compiled_call_impl is None  # only the denoiser


def test_sdxl_vae_replaces_the_base_and_refiner_vae(tiny):
    plain = np.asarray(TextToImageAgent(tiny)(PROMPT, seed=4))
    models.clear()
    p = tiny.replace(text_to_image=dict(vae=Model(str(tiny.text_to_image.model.source) + "/vae")))  # the same weights, loaded apart
    agent = TextToImageAgent(p)
    assert agent.pipe.vae is models.load_model(type(agent.pipe.vae), p.text_to_image.vae, p, "sdxl_vae")
    assert agent.refiner.vae is agent.pipe.vae
    assert np.array_equal(np.asarray(agent(PROMPT, seed=4)), plain)


def test_bf16_falls_back_to_float32_on_a_gpu_without_it(monkeypatch):
    from moranb import models

    full, ltx = get_profile("full"), get_profile("full").connection.model
    assert ltx.torch_dtype(full) == torch.bfloat16
    monkeypatch.setattr(models, "bf16_supported", lambda: False)
    assert ltx.torch_dtype(full) == torch.float32
    assert full.text_to_image.model.torch_dtype(full) == torch.float16  # fp16 models are untouched
    assert ltx.torch_dtype(full.replace(device="cpu", dtype="float32")) == torch.bfloat16  # on a CPU: as asked


def test_a_judge_is_on_the_gpu_only_while_it_judges():
    moves = []

    class Net:
        def to(self, device):
            moves.append(str(device))
            return self

    gpu = get_profile("full")
    with pytest.raises(RuntimeError):
        with models.on_device(Net(), gpu):
            assert moves == ["cuda"]
            raise RuntimeError("out of memory while judging")
    assert moves == ["cuda", "cpu"]  # back on the CPU, even after a failure
    with models.on_device(Net(), get_profile("tiny")):
        pass
    assert moves == ["cuda", "cpu"]  # a CPU profile moves nothing


def test_bad_option_values_are_one_line():
    with pytest.raises(InputError, match="unknown offload 'cpu'; choose one of"):
        get_profile("full", offload="cpu")
    with pytest.raises(InputError, match="first_block_cache is a relative threshold"):
        get_profile("full", first_block_cache=2)
    with pytest.raises(InputError, match="unknown profile setting"):
        get_profile("full", cpu_offload=True)


def test_first_block_cache_on_a_one_block_transformer_is_one_line(tiny):
    with pytest.raises(InputError, match="first_block_cache needs a transformer with at least 2 blocks.*has 1"):
        ConnectionAgent(tiny.replace(first_block_cache=0.1)).pipe


def test_options_are_part_of_the_model_cache_key(tiny):
    assert TextToImageAgent(tiny).pipe is TextToImageAgent(tiny).pipe
    assert TextToImageAgent(tiny.replace(vae_tiling=True)).pipe is not TextToImageAgent(tiny).pipe



def test_sequential_keeps_one_model_resident_and_the_frames(tiny, tmp_path):
    """offload "sequential" (the colab profile's): each load lets the models loaded before go (those the new one
    shares live on in it), and LTX-Video's text encoder runs alone before its transformer: the frames stay (to one
    level of 255: the pipeline given embeddings rounds a float differently from the one given the prompt)."""
    from moranb import tasks

    a, b = ends()
    base_clip = ConnectionAgent(tiny)(a, b, seed=3).frames
    seq = tiny.replace(offload="sequential")
    models.clear()
    clip = ConnectionAgent(seq)(a, b, seed=3).frames
    assert clip.shape == base_clip.shape and np.abs(clip.astype(int) - base_clip).max() <= 1
    (only,) = models.resident()  # the encoder-only pipeline was let go when the transformer's loaded
    pipe = models._LOADED[only]
    assert only[0] == "LTXConditionPipeline" and pipe.text_encoder is None and pipe.transformer is not None
    # a whole task: text-to-image (base, then the refiner with the base's VAE), then image-to-video, one at a time
    result = tasks.text_to_video(PROMPT, profile=seq.replace(image_to_video=dict(segments=2)), seed=1,
                                 out_dir=tmp_path / "t2v")
    assert result.video.num_frames == 2 * seq.image_to_video.frames_per_segment
    assert [k[0] for k in models.resident()] == ["StableVideoDiffusionPipeline"]
    models.clear()
    again = tasks.text_to_video(PROMPT, profile=tiny.replace(image_to_video=dict(segments=2)), seed=1,
                                out_dir=tmp_path / "all")
    assert np.array_equal(again.video.frames, result.video.frames)  # nothing but memory changes for the UNets
    assert len(models.resident()) > 1  # without it, every model stays loaded
