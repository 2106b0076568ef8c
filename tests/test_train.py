"""Self-modulated fine-tuning (moranb.train) and the Table 5 ablation, on the tiny profile on a CPU."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from moranb import data, get_profile, models
from moranb.agents import ConnectionAgent, TextToImageAgent
from moranb.errors import CheckpointError, DatasetError, GPUMemoryError
from moranb.train import FineTuner, finetune
from moranb.train import loop

pytestmark = pytest.mark.slow
FRAMES = 4  # frames per clip: small, so a step takes about a second
QUICK = dict(frames=FRAMES, batch_size=2, progress=False)


@pytest.fixture(scope="module")
def data_dir(tiny, tmp_path_factory, scripted_judge):
    """One round of 3 prompts: the judges agree on two sets, a policy decides the third (the human step). Videos of
    9 frames, a connection's length (image-to-video trains on the first FRAMES)."""
    root = tmp_path_factory.mktemp("train-data")
    judges = [scripted_judge("A", [0, 1, 0]), scripted_judge("B", [0, 1, 1])]
    result = data.synthesize_round(root, round=1, profile=tiny, prompts=3, judges=judges, segments=1,
                                   frames_per_segment=tiny.connection.frames, candidates=2, progress=False)
    data.resolve_queue(result.dir, policy="judge_a")
    return root


@pytest.fixture(scope="module")
def dataset(data_dir):
    return data.build_dataset(data_dir)


@pytest.fixture(scope="module")
def trained(tiny, dataset, tmp_path_factory):
    """An uninterrupted run of the paper's schedule: 12 steps, a checkpoint every 4."""
    return finetune(dataset, tiny, tmp_path_factory.mktemp("run"), **QUICK)


def flat(params):
    return torch.cat([p.detach().reshape(-1).float() for p in params])


@pytest.mark.parametrize("full_finetune, lr, ratio", [(False, 1e-2, 0.9), (True, 1e-3, 0.5)], ids=["lora", "full"])
def test_loss_goes_down_when_overfitting_a_fixed_batch(tiny, dataset, tmp_path, monkeypatch, full_finetune, lr, ratio):
    tuner = FineTuner(dataset, tiny, tmp_path, lr=lr, snr_gamma=None, ema_decay=None, full_finetune=full_finetune,
                      **QUICK)
    fixed = [0, 1]
    tuner._indices = lambda step, micro: fixed  # every step sees the same two samples...
    monkeypatch.setattr(loop, "_generator", lambda *parts: torch.Generator().manual_seed(0))  # ...noise
    before = tuner.eval_loss(indices=fixed)
    for _ in range(30):
        tuner.train_step()
    after = tuner.eval_loss(indices=fixed)
    for agent in before:
        assert after[agent] < ratio * before[agent], (agent, before[agent], after[agent])


def test_each_group_learns_at_base_lr_times_alpha_recomputed_every_step(tiny, dataset, tmp_path):
    tuner = FineTuner(dataset, tiny, tmp_path, lr=1e-4, **QUICK)
    for _ in range(2):
        z = {a: m.z.detach().clone() for a, m in tuner.modulations.items()}
        record = tuner.train_step()
        for group in tuner.optimizer.param_groups:
            a = group["agent"]
            alpha = float(z[a].norm() / math.sqrt(z[a].numel()))  # ||z_i|| / n, n = sqrt(dim), before the step
            assert record["alpha"][a] == pytest.approx(alpha, rel=1e-6)
            assert group["lr"] == pytest.approx(1e-4 * alpha, rel=1e-6)
    assert tuner.modulations["text_to_image"].alpha != pytest.approx(tuner.modulations["image_to_video"].alpha)
    fixed = FineTuner(dataset, tiny, tmp_path / "fixed", lr=1e-4, self_modulation=False, **QUICK)
    fixed.train_step()
    assert [g["lr"] for g in fixed.optimizer.param_groups] == [1e-4] * 3


def test_an_agent_whose_alpha_is_zero_does_not_change(tiny, dataset, tmp_path):
    tuner = FineTuner(dataset, tiny, tmp_path, lr=1e-3, **QUICK)
    with torch.no_grad():
        tuner.modulations["image_to_video"].z.zero_()
    still, moving = flat(tuner.params["image_to_video"]), flat(tuner.params["text_to_image"])
    tuner.train_step()
    assert torch.equal(flat(tuner.params["image_to_video"]), still)
    assert not torch.equal(flat(tuner.params["text_to_image"]), moving)


def test_z_moves_is_checkpointed_and_exported(tiny, dataset, trained, tmp_path):
    first = FineTuner(dataset, tiny, tmp_path, **QUICK)  # a new run: z_i as initialised from E_i("[Mod]")
    init = {a: m.z.detach().clone() for a, m in first.modulations.items()}
    last = load_file(trained.out / "checkpoints" / "step-000012" / "trainable.safetensors")
    exported = load_file(trained.adapters / "modulation.safetensors")
    for agent, z0 in init.items():
        z12 = last[f"{agent}/moranb_modulation.z"]
        assert not torch.equal(z12, z0)  # trained
        assert z12.shape == z0.shape
        assert not torch.equal(exported[agent], z0)  # the EMA of z_i, used at inference
    assert sorted(p.name for p in (trained.out / "checkpoints").iterdir()) == \
        ["step-000004", "step-000008", "step-000012"]
    meta = json.loads((trained.adapters / "adapters.json").read_text())
    assert meta["step"] == 12 and meta["ema"] and set(meta["agents"]) == {"text_to_image", "image_to_video",
                                                                          "connection"}
    for agent in ("text_to_image", "connection"):  # diffusers' LoRA format, which the pipelines' loaders read
        assert (trained.adapters / agent / "pytorch_lora_weights.safetensors").is_file()


def test_adapters_change_the_output_and_reload_to_identical_output(tiny, trained):
    tuned = get_profile(tiny, adapters=str(trained.adapters))
    base_image = np.asarray(TextToImageAgent(tiny)("a red kite", seed=3))
    once = np.asarray(TextToImageAgent(tuned)("a red kite", seed=3))
    pipe = TextToImageAgent(tuned).pipe
    assert "moranb_modulation" in dict(pipe.unet.named_modules())
    assert any("lora" in name for name, _ in pipe.unet.named_parameters())
    start, end = Image.new("RGB", (96, 64), "red"), Image.new("RGB", (96, 64), "blue")
    base_bridge = ConnectionAgent(tiny)(start, end, seed=1).frames
    bridge = ConnectionAgent(tuned)(start, end, seed=1).frames
    models.clear()  # load everything again, from the files
    again = np.asarray(TextToImageAgent(tuned)("a red kite", seed=3))
    assert not np.array_equal(once, base_image) and not np.array_equal(bridge, base_bridge)
    assert np.array_equal(once, again)
    assert np.array_equal(ConnectionAgent(tuned)(start, end, seed=1).frames, bridge)


def test_a_task_on_the_tuned_profile_records_the_adapters(tiny, trained, tmp_path):
    from moranb.tasks import text_to_video

    tuned = get_profile(tiny, adapters=str(trained.adapters))
    result = text_to_video("a paper boat", profile=tuned, seed=0, out_dir=tmp_path, segments=1,
                           frames_per_segment=FRAMES)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    sha = json.loads((trained.adapters / "adapters.json").read_text())["sha256"]
    assert manifest["adapters"] == {"dir": str(trained.adapters), "sha256": sha}
    assert manifest["profile"]["adapters"] == str(trained.adapters)
    assert result.video.num_frames == FRAMES


def test_resuming_from_step_8_gives_the_weights_of_an_uninterrupted_run(tiny, dataset, trained, tmp_path):
    stopped = finetune(dataset, tiny, tmp_path, stop_after=8, **QUICK)
    assert stopped.steps == 8 and not (tmp_path / "adapters").exists()
    # A checkpoint being written when the run was killed: hidden, half there; a resume must not pick it up.
    half = tmp_path / "checkpoints" / ".step-000012-x"
    half.mkdir()
    (half / "trainable.safetensors").write_bytes(b"\0" * 10)
    resumed = finetune(dataset, tiny, tmp_path, **QUICK)
    assert resumed.resumed_from == 8 and resumed.steps == 12
    for name in ("trainable", "ema", "optimizer"):
        a = load_file(trained.out / "checkpoints" / "step-000012" / f"{name}.safetensors")
        b = load_file(tmp_path / "checkpoints" / "step-000012" / f"{name}.safetensors")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert resumed.history == trained.history
    again = finetune(dataset, tiny, tmp_path, **QUICK)  # finished: nothing is trained again
    assert again.seconds == 0.0 and again.steps == 12


def test_bad_datasets_and_foreign_checkpoints_say_what_to_do(tiny, data_dir, dataset, trained, tmp_path):
    with pytest.raises(DatasetError, match="build_dataset"):
        finetune(tmp_path / "nowhere", tiny, tmp_path / "a", **QUICK)
    broken = shutil.copytree(dataset.path, tmp_path / "broken")
    shutil.rmtree(broken / ".encoded", ignore_errors=True)
    (broken / dataset.meta[1]["video"]).unlink()
    with pytest.raises(DatasetError, match=r"rebuild it with moranb.data.build_dataset"):
        finetune(broken, tiny, tmp_path / "b", **QUICK)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metadata.jsonl").write_text("")
    with pytest.raises(DatasetError, match="no samples"):
        finetune(empty, tiny, tmp_path / "c", **QUICK)
    # Resuming a run made with other settings.
    out = shutil.copytree(trained.out, tmp_path / "other")
    shutil.rmtree(out / "adapters")
    with pytest.raises(CheckpointError, match="lr 1e-05 -> 0.001.*another out folder"):
        finetune(dataset, tiny, out, lr=1e-3, **QUICK)
    # The tiny SDXL adapters in a profile whose text-to-image model is another network.
    other = get_profile(tiny, adapters=str(trained.adapters), text_to_image=dict(model=tiny.text_to_image.refiner))
    with pytest.raises(CheckpointError, match="not for this profile's text_to_image"):
        TextToImageAgent(other).pipe


def test_out_of_gpu_memory_names_the_fixes(tiny, dataset, tmp_path, monkeypatch):
    tuner = FineTuner(dataset, tiny, tmp_path, **QUICK)

    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(tuner, "train_step", oom)
    with pytest.raises(GPUMemoryError, match="batch_size=1 with gradient_accumulation=2.*lowvram"):
        tuner.run()


def test_the_ablation_runs_all_five_variants(tiny, data_dir, tmp_path):
    from moranb.ablation import VARIANTS, run_ablation
    from moranb.paper import TABLE5

    result = run_ablation(data_dir, tiny, tmp_path, prompts=["a lighthouse at dusk"], segments=1,
                          frames_per_segment=FRAMES, train=dict(steps_per_round=2, checkpoint_every=2,
                                                                batch_size=2, frames=FRAMES), progress=False)
    rows = {r["variant"]: r for r in result.rows}
    assert list(rows) == list(VARIANTS)
    assert rows["no_human"]["samples"] == 2 and rows["full"]["samples"] == 3  # judges' agreement only vs all
    assert "steps" not in rows["no_finetuning"] and rows["no_finetuning"]["adapters"] is None
    for name, row in rows.items():
        assert row["paper_vq"] == TABLE5[name]
        assert row["vq5"] is not None and row["backend"] == "offline"
    assert all(h[-1]["alpha"]["text_to_image"] == 1.0 for h in [result.histories["no_self_modulation"]])
    table = (tmp_path / "table5.md").read_text()
    assert "without self-modulation" in table and "0.797" in table and "(offline)" in table
    assert (tmp_path / "training.png").stat().st_size > 1000


def test_full_finetuning_of_one_agent_exports_a_whole_denoiser_that_reloads(tiny, dataset, tmp_path):
    result = finetune(dataset, tiny, tmp_path, agents=("text_to_image",), full_finetune=True, steps_per_round=2,
                      checkpoint_every=1, lr=1e-3, **QUICK)
    meta = json.loads((result.adapters / "adapters.json").read_text())
    assert meta["full_finetune"] and list(meta["agents"]) == ["text_to_image"]
    assert (result.adapters / "text_to_image" / "denoiser.safetensors").is_file()
    assert not (result.adapters / "image_to_video").exists()
    tuned = get_profile(tiny, adapters=str(result.adapters))
    base_image = np.asarray(TextToImageAgent(tiny)("a red kite", seed=3))
    once = np.asarray(TextToImageAgent(tuned)("a red kite", seed=3))
    models.clear()
    assert np.array_equal(np.asarray(TextToImageAgent(tuned)("a red kite", seed=3)), once)
    assert not np.array_equal(once, base_image)


def test_the_command_line_fine_tunes_and_a_task_uses_the_adapters(tiny, dataset, tmp_path, capsys):
    from moranb.cli import main

    assert main(["finetune", str(dataset.path), "--out", str(tmp_path / "ft"), "--steps-per-round", "2",
                 "--batch-size", "2", "--agents", "image_to_video", "--no-self-modulation", "--frames", str(FRAMES)]) == 0
    out = capsys.readouterr().out
    assert "fine-tuned 2 steps" in out and "image_to_video: last loss" in out and "alpha 1.000" in out
    adapters = tmp_path / "ft" / "adapters"
    assert main(["t2v", "a red kite", "--out", str(tmp_path / "run"), "--segments", "1", "--frames", str(FRAMES),
                 "--adapters", str(adapters)]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["adapters"]["dir"] == str(adapters)
    assert main(["t2v", "a red kite", "--out", str(tmp_path / "bad"), "--adapters", str(tmp_path)]) == 2
    assert "holds no fine-tuned adapters" in capsys.readouterr().err


def test_rounds_train_in_order_each_on_every_sample_so_far(tiny, dataset, tmp_path):
    two = shutil.copytree(dataset.path, tmp_path / "two-rounds")
    lines = [json.loads(line) for line in (two / "metadata.jsonl").read_text().splitlines()]
    lines[-1]["round"] = 2  # the last sample came from a second round
    (two / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    tuner = FineTuner(two, tiny, tmp_path / "run", steps_per_round=2, **QUICK)
    assert tuner.total_steps == 4
    new = len(lines) - 1
    assert all(new not in tuner._indices(step, 0) for step in range(2))  # round 1: round 1's samples only
    later = {i for step in range(2, 40) for i in tuner._indices(step, 0)}  # round 2 (and after): every sample
    assert later == set(range(len(lines)))
    result = tuner.run()
    assert [r["round"] for r in result.history] == [1, 1, 2, 2]  # round 2 continues from round 1's weights
