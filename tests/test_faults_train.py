"""Fault suite of the training surface (issue 22): nothing lost, nothing trained on damaged or foreign state.

Each test is a finding of the hostile probes: before the change each one exported NaN or stale adapters with exit 0,
loaded a pickle, left hidden folders forever or ended in a traceback; now each is refused in one line or repaired.
Every test checks that nothing beside the run's folder (and the dataset's own encoding cache) was written.
"""

import errno
import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from moranb import data, get_profile
from moranb.adapters import fingerprint
from moranb.errors import CheckpointError, InputError, OutputDirError, TrainingError
from moranb.train import finetune

pytestmark = pytest.mark.slow
# One agent, two steps, a checkpoint after each: a run takes seconds.
QUICK = dict(agents=("text_to_image",), steps_per_round=2, checkpoint_every=1, batch_size=1, progress=False)


def listing(folder, *skip):
    """Every path under `folder` but those under `skip`, with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size if p.is_file() else None for p in folder.rglob("*")
            if not any(s in p.parents or p == s for s in skip)}


@pytest.fixture(scope="module")
def dataset(tiny, tmp_path_factory, scripted_judge):
    root = tmp_path_factory.mktemp("faults-train-data")
    judges = [scripted_judge("A", [0, 1]), scripted_judge("B", [0, 1])]
    data.synthesize_round(root, round=1, profile=tiny, prompts=2, judges=judges, segments=1, frames_per_segment=2,
                          candidates=2, progress=False)
    return data.build_dataset(root)


@pytest.fixture(scope="module")
def run(tiny, dataset, tmp_path_factory):
    """A finished run: checkpoints after steps 1 and 2, and its adapters."""
    return finetune(dataset, tiny, tmp_path_factory.mktemp("faults-train-run") / "run", **QUICK)


@pytest.fixture
def copy(run, tmp_path):
    """A copy of the finished run in this test's folder, and a check that nothing else there changes."""
    out = shutil.copytree(run.out, tmp_path / "run")
    before = listing(tmp_path, out)
    yield out
    assert listing(tmp_path, out) == before


def stopped_after_one(tiny, dataset, copy):
    """The copy as a run killed after its first checkpoint."""
    shutil.rmtree(copy / "adapters")
    shutil.rmtree(copy / "checkpoints" / "step-000002")
    return copy / "checkpoints" / "step-000001"


@pytest.mark.parametrize("lr", [math.inf, math.nan, -1.0, 0.0, "1e-5"])
def test_a_learning_rate_that_cannot_train_is_refused(tiny, dataset, tmp_path, lr, capsys):
    with pytest.raises(InputError, match="the learning rate must be a positive finite number"):
        finetune(dataset, tiny, tmp_path / "run", lr=lr, **QUICK)
    if not isinstance(lr, str):  # the command line: one line, exit 2 (before: NaN adapters and exit 0)
        from moranb.cli import main

        assert main(["finetune", str(dataset.path), "--out", str(tmp_path / "run"), "--lr", str(lr)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "the learning rate must be a positive finite number" in err[0]
    assert not any(tmp_path.iterdir())


def test_a_step_that_makes_non_finite_weights_stops_and_exports_nothing(tiny, dataset, tmp_path):
    # A learning rate that is finite but explodes the weights (before: NaN adapters exported with exit 0).
    with pytest.raises(TrainingError, match=r"fine-tuning step \d failed: .*(nan|inf|not finite).*nothing was exported"):
        finetune(dataset, tiny, tmp_path / "run", **{**QUICK, "lr": 1e30, "ema_decay": None})
    assert not (tmp_path / "run" / "adapters").exists()
    for checkpoint in (tmp_path / "run" / "checkpoints").glob("step-*"):  # only finite steps were kept
        assert all(torch.isfinite(t).all() for t in load_file(checkpoint / "trainable.safetensors").values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_damaged_checkpoint_is_refused_not_resumed(tiny, dataset, copy):
    checkpoint = stopped_after_one(tiny, dataset, copy)
    path = checkpoint / "optimizer.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-64:] = b"\xff" * 64  # NaNs in the optimizer's state, same size: it still parses
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"step-000001' is damaged \(optimizer.safetensors is not the file"):
        finetune(dataset, tiny, copy, **QUICK)
    assert not (copy / "adapters").exists()


def test_a_truncated_checkpoint_is_one_line(tiny, dataset, copy):
    checkpoint = stopped_after_one(tiny, dataset, copy)
    path = checkpoint / "trainable.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="trainable.safetensors is not the file it wrote"):
        finetune(dataset, tiny, copy, **QUICK)


@pytest.mark.parametrize("edit, message", [
    (lambda s: {**s, "step": 2}, "says step 2 with 1 steps of history, in the folder of step 1"),
    (lambda s: {k: v for k, v in s.items() if k != "history"}, "field 'history' is missing"),
    (lambda s: {**s, "step": "1"}, "field 'step' is '1', not int"),
    (None, "state.json is not the JSON moranb wrote"),
])
def test_a_hand_edited_state_is_one_line(tiny, dataset, copy, edit, message):
    path = stopped_after_one(tiny, dataset, copy) / "state.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))) if edit else '{"step": 1,')
    with pytest.raises(CheckpointError, match=message):
        finetune(dataset, tiny, copy, **QUICK)


def test_replaced_adapter_weights_are_refused_not_reused(tiny, copy):
    adapters = copy / "adapters"
    profile = get_profile(tiny, adapters=str(adapters))
    assert fingerprint(adapters) == json.loads((adapters / "adapters.json").read_text())["sha256"]
    tokens = load_file(adapters / "modulation.safetensors")
    save_file({k: v * 2 for k, v in tokens.items()}, adapters / "modulation.safetensors")  # adapters.json unchanged
    with pytest.raises(CheckpointError, match="weight files in .* are not the ones its adapters.json was written"):
        fingerprint(adapters)
    from moranb import tasks

    with pytest.raises(CheckpointError, match="changed after training"):
        tasks.text_to_video("a red fox", profile=profile, segments=1, frames_per_segment=2, out_dir=copy / "t2v")


def test_only_safetensors_adapters_load(tiny, copy, monkeypatch):
    from moranb.agents import TextToImageAgent

    folder = copy / "adapters" / "text_to_image"
    weights = load_file(folder / "pytorch_lora_weights.safetensors")
    (folder / "pytorch_lora_weights.safetensors").unlink()
    torch.save(weights, folder / "pytorch_lora_weights.bin")  # a pickle, where diffusers' loader would look next
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("a pickle was loaded"))
    with pytest.raises(CheckpointError, match="no text_to_image/pytorch_lora_weights.safetensors .*only the "
                                              "safetensors"):
        TextToImageAgent(get_profile(tiny, adapters=str(copy / "adapters"))).pipe


@pytest.mark.parametrize("text, message", [
    ('{"profile": "tiny"', "adapters.json is not the JSON moranb wrote"),
    ('{"profile": "tiny", "step": 2, "sha256": "x", "lora": {}}', "field 'agents' is missing"),
    ('{"profile": "tiny", "step": 2, "sha256": "x", "lora": {}, "agents": {"text_to_image": {"format": "pickle"}}}',
     "agent 'text_to_image' does not say which denoiser"),
])
def test_a_hand_edited_adapters_manifest_is_one_line(tiny, copy, text, message):
    (copy / "adapters" / "adapters.json").write_text(text)
    with pytest.raises(CheckpointError, match=message):
        fingerprint(copy / "adapters")


def test_leftover_hidden_folders_are_removed_by_the_next_run(tiny, dataset, copy):
    stopped_after_one(tiny, dataset, copy)
    for left in (copy / "checkpoints" / ".step-000002-k1ll3d", copy / ".adapters-k1ll3d", copy / ".adapters-old"):
        left.mkdir()
        (left / "trainable.safetensors").write_bytes(b"\0" * 10)
    result = finetune(dataset, tiny, copy, **QUICK)
    assert result.resumed_from == 1 and result.steps == 2
    assert sorted(p.name for p in copy.rglob(".*") if p.is_dir()) == []
    assert (copy / "adapters" / "adapters.json").is_file()


def test_a_second_process_on_a_run_is_refused(tiny, dataset, copy):
    from filelock import FileLock

    stopped_after_one(tiny, dataset, copy)
    with FileLock(copy / ".lock"):  # another process, training into the same folder
        with pytest.raises(InputError, match="another process is fine-tuning into"):
            finetune(dataset, tiny, copy, **QUICK)
    assert not (copy / "checkpoints" / "step-000002").exists()
    assert finetune(dataset, tiny, copy, **QUICK).steps == 2  # once it is gone, the run resumes


def test_disk_full_in_a_checkpoint_is_one_line(tiny, dataset, copy, monkeypatch):
    import safetensors.torch

    stopped_after_one(tiny, dataset, copy)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(OutputDirError, match="checkpoint of step 2 .*No space left on device.*free some space"):
        finetune(dataset, tiny, copy, **QUICK)
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == ["step-000001"]  # no half-written one
