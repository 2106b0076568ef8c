"""Fault suite of the data surface (issue 22): nothing lost, nothing read or written outside the data folder.

Each test is a finding of the hostile probes: before the change each one lost data, reached outside the data folder
or broke a later read; now each is refused in one line, before any work, or repaired. Every test checks that
nothing beside the data folder was written.
"""

import json

import pytest

from moranb import data
from moranb.errors import InputError, OutputDirError

pytestmark = pytest.mark.slow
SMALL = dict(segments=1, frames_per_segment=2, candidates=2, progress=False)


def listing(folder, skip):
    """Every path under `folder` but those under `skip` (the data folder), with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size if p.is_file() else None for p in folder.rglob("*")
            if skip not in p.parents and p != skip}


@pytest.fixture
def round1(tiny, tmp_path, scripted_judge):
    """A data folder with round 1: the judges agree on set 0 and disagree on set 1 (queued)."""
    judges = [scripted_judge("A", [0, 0]), scripted_judge("B", [0, 1])]
    return data.synthesize_round(tmp_path / "data", round=1, profile=tiny, prompts=2, judges=judges, **SMALL)


def test_a_dataset_never_replaces_what_it_reads(round1, tmp_path):
    d = round1.dir.parent
    before = {p.relative_to(d): p.stat().st_size for p in d.rglob("*") if p.is_file()}
    for out in (d, round1.dir, round1.dir / "candidates", tmp_path):
        with pytest.raises(OutputDirError, match="which this reads from"):
            data.build_dataset(d, out=out)
    assert {p.relative_to(d): p.stat().st_size for p in d.rglob("*") if p.is_file()} == before  # nothing lost
    built = data.build_dataset(d)  # the default, <data>/dataset, beside the rounds
    assert len(built) == 1 and (d / "dataset" / ".moranb").is_file()


def test_a_dataset_never_replaces_a_users_folder(round1, tmp_path):
    d = round1.dir.parent
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own notes")
    with pytest.raises(OutputDirError, match="holds files moranb did not write"):
        data.build_dataset(d, out=mine)
    assert (mine / "notes.txt").read_text() == "my own notes"
    with pytest.raises(InputError, match="output directory is empty"):
        data.build_dataset(d, out="")
    out = tmp_path / "ds"
    first = data.build_dataset(d, out=out)
    again = data.build_dataset(d, out=out)  # a folder moranb wrote is replaced whole
    assert len(first) == len(again) == 1 and (out / ".moranb").is_file()


def test_fine_tuning_refuses_an_empty_out_or_one_in_the_dataset(round1, tmp_path, monkeypatch):
    from moranb.train import finetune

    ds = data.build_dataset(round1.dir.parent)
    work = tmp_path / "cwd"
    (work / "adapters").mkdir(parents=True)
    (work / "adapters" / "keep.txt").write_text("a user's file")
    monkeypatch.chdir(work)
    with pytest.raises(InputError, match="output directory is empty"):
        finetune(ds.path, "tiny", out="", steps_per_round=1)
    with pytest.raises(OutputDirError, match="reads from"):
        finetune(ds.path, "tiny", out=ds.path, steps_per_round=1)
    with pytest.raises(OutputDirError, match="holds files moranb did not write"):
        finetune(ds.path, "tiny", out=work, steps_per_round=1)
    assert sorted(p.name for p in work.rglob("*")) == ["adapters", "keep.txt"]


def _rewrite_sets(round_dir, change):
    path = round_dir / "sets.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in change(records)))


@pytest.mark.parametrize("field, value, message", [
    ("id", "../../../x/pwned", r"sets.jsonl:1: set id '../../../x/pwned' is not a name"),
    ("candidates", ["/etc", "/etc"], r"sets.jsonl:1 candidates: '/etc' is not a path relative"),
    ("candidates", ["../../secret", "../../secret"], r"sets.jsonl:1 candidates: '../../secret' points outside"),
])
def test_a_set_naming_a_path_outside_the_data_folder_is_refused(round1, tmp_path, field, value, message):
    d = round1.dir.parent
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "video.mp4").write_bytes(b"not yours")
    before = listing(tmp_path, d)
    _rewrite_sets(round1.dir, lambda records: [{**records[0], field: value}, *records[1:]])
    with pytest.raises(InputError, match=message):
        data.build_dataset(d)
    with pytest.raises(InputError, match=message):
        data.pending(round1.dir)  # what the filtering panel reads
    assert listing(tmp_path, d) == before  # nothing written (or made) outside the data folder


def test_a_set_written_twice_is_refused_not_doubled(round1):
    _rewrite_sets(round1.dir, lambda records: [*records, records[0]])
    with pytest.raises(InputError, match=r"sets.jsonl:3: set r01-s000 is there twice"):
        data.build_dataset(round1.dir.parent)


def test_dataset_paths_stay_inside_the_dataset(round1, tmp_path):
    ds = data.build_dataset(round1.dir.parent)
    (tmp_path / "x.mp4").write_bytes(b"outside")
    meta = ds.path / "metadata.jsonl"
    record = json.loads(meta.read_text().splitlines()[0])
    for field, value in (("video", "../../x.mp4"), ("first_frame", "/etc/passwd")):
        meta.write_text(json.dumps({**record, field: value}) + "\n")
        with pytest.raises(InputError, match=f"metadata.jsonl:1 {field}"):
            data.Dataset(ds.path)


def test_a_torn_append_is_dropped_before_the_next_one(round1):
    path = round1.dir / "decisions.jsonl"
    path.write_bytes(b'{"set": "r01-s001", "decis')  # what a kill in the middle of an append leaves
    assert data.read_decisions(round1.dir) == {}  # the partial line is skipped
    data.record_decision(round1.dir, "r01-s001", "pick", 1)
    decided = data.read_decisions(round1.dir)  # before: "decisions.jsonl:2 is not a JSON object" from here on
    assert decided["r01-s001"].pick == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["set"] == "r01-s001"


@pytest.mark.parametrize("change, message", [
    ({"pick": -1}, r"sets.jsonl:1: status 'accepted' with pick -1"),
    ({"pick": 2}, r"sets.jsonl:1: status 'accepted' with pick 2"),
    ({"status": "maybe"}, r"sets.jsonl:1: status 'maybe'"),
    ({"seeds": [1]}, r"sets.jsonl:1: candidates must be a list of folders, one seed each"),
])
def test_a_set_whose_pick_is_not_one_of_its_candidates_is_refused(round1, change, message):
    _rewrite_sets(round1.dir, lambda records: [{**records[0], **change}, *records[1:]])
    with pytest.raises(InputError, match=message):  # before: pick -1 silently took the last candidate
        data.build_dataset(round1.dir.parent)


def test_a_hand_edited_set_missing_a_field_is_one_line(round1):
    _rewrite_sets(round1.dir, lambda records: [{k: v for k, v in records[0].items() if k != "prompt"}, *records[1:]])
    with pytest.raises(InputError, match=r"sets.jsonl:1 is not a set this round wrote"):
        data.build_dataset(round1.dir.parent)


def test_a_round_resumes_only_with_its_own_settings(round1, tiny, scripted_judge):
    d = round1.dir.parent
    judges = [scripted_judge("A", [0, 0]), scripted_judge("B", [0, 1])]
    again = data.synthesize_round(d, round=1, profile=tiny, prompts=2, judges=judges, **SMALL)
    assert again.made == [] and len(again.sets) == 2  # the same settings: resumed, nothing made twice
    with pytest.raises(InputError, match=r"other settings \(candidates 2 -> 3\)"):
        data.synthesize_round(d, round=1, profile=tiny, prompts=2, judges=judges, **{**SMALL, "candidates": 3})
    with pytest.raises(InputError, match=r"other settings \(profile 'tiny' -> 'mini'\)"):
        data.synthesize_round(d, round=1, profile="mini", prompts=2, judges=judges, **SMALL)
    assert len((round1.dir / "sets.jsonl").read_text().splitlines()) == 2


def test_a_second_process_on_a_round_is_refused(round1, tiny):
    from filelock import FileLock

    held = FileLock(round1.dir / ".lock")  # what a first process holds while it makes the round
    held.acquire()
    try:
        with pytest.raises(InputError, match="another process is making round 1"):
            data.synthesize_round(round1.dir.parent, round=1, profile=tiny, prompts=2, **SMALL)
    finally:
        held.release()
    assert len((round1.dir / "sets.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("text, message", [
    ('{"count": 2, "prompts": ["a red fox"]}', r"prompts.json: 'prompts' must be 2 texts"),
    ('{"count": 2, "prompts": ', r"prompts.json is not the JSON moranb wrote"),
    ('{"prompts": ["a", "b"]}', r"prompts.json: field 'count' is missing"),
])
def test_a_hand_edited_prompts_file_is_one_line(round1, tiny, text, message):
    (round1.dir / "prompts.json").write_text(text)
    with pytest.raises(InputError, match=message):  # before: KeyError or JSONDecodeError tracebacks
        data.synthesize_round(round1.dir.parent, round=1, profile=tiny, prompts=2, **SMALL)
    with pytest.raises(InputError, match=message):  # a later round reads it too (its prompts are not repeated)
        data.round_prompts(round1.dir.parent, round=2, profile=tiny, prompts=2)


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / "video.mp4").unlink(), r"has no video.mp4; restore candidate 0 of set r01-s000"),
    (lambda run: (run / "manifest.json").write_text('{"video": {"fps": 8}}'), r"field 'video.frames' is missing"),
    (lambda run: (run / "manifest.json").write_text("not json"), r"manifest.json is not the JSON moranb wrote"),
])
def test_a_changed_candidate_is_one_line_and_the_old_dataset_stays(round1, tmp_path, damage, message):
    from moranb.errors import DatasetError

    d = round1.dir.parent
    first = data.build_dataset(d)
    kept = (first.path / "metadata.jsonl").read_bytes()
    before = listing(tmp_path, d)
    damage(d / round1.sets[0].candidates[0])
    with pytest.raises(DatasetError, match=message):  # before: FileNotFoundError / KeyError tracebacks
        data.build_dataset(d)
    assert (first.path / "metadata.jsonl").read_bytes() == kept and not list(d.glob(".dataset-*"))
    assert listing(tmp_path, d) == before


def test_a_hand_edited_dataset_line_is_one_line(round1):
    from moranb.errors import DatasetError

    ds = data.build_dataset(round1.dir.parent)
    meta = ds.path / "metadata.jsonl"
    record = json.loads(meta.read_text().splitlines()[0])
    meta.write_text(json.dumps({k: v for k, v in record.items() if k != "prompt"}) + "\n")
    with pytest.raises(DatasetError, match=r"metadata.jsonl:1: field 'prompt' is None, not str"):
        data.Dataset(ds.path)  # before: a KeyError when the trainer reads the sample


def test_disk_full_while_building_a_dataset_is_one_line(round1, tmp_path, monkeypatch):
    import errno
    import shutil

    d = round1.dir.parent
    first = data.build_dataset(d)
    kept = (first.path / "metadata.jsonl").read_bytes()
    before = listing(tmp_path, d)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full)
    with pytest.raises(OutputDirError, match=r"cannot write the dataset .*No space left on device.*free some space"):
        data.build_dataset(d)
    assert (first.path / "metadata.jsonl").read_bytes() == kept  # the earlier dataset is whole
    assert not [p for p in d.iterdir() if p.name.startswith(".dataset")]  # no half-written folder left
    assert listing(tmp_path, d) == before


def test_the_panel_shows_a_deleted_candidate_as_one_line_and_it_cannot_be_picked(round1, tmp_path):
    d = round1.dir.parent
    queued = round1.queued[0]
    before = listing(tmp_path, d)
    (d / queued.candidates[1] / "video.mp4").unlink()
    panel = data.FilterPanel(round1.dir)  # before: FileNotFoundError while the panel drew the set
    assert panel.current.id == queued.id
    tile = panel.body.children[1].children[1].children[1]
    assert "cannot show" in tile.value and "video.mp4" in tile.value
    assert [b.disabled for b in panel.pick_buttons] == [False, True]
    panel.pick_buttons[0].click()  # the candidate that can be seen is still picked
    assert data.read_decisions(round1.dir)[queued.id].pick == 0
    assert listing(tmp_path, d) == before


def test_the_panel_waiting_for_a_person_where_none_can_click_is_one_line(round1, tmp_path):
    """Run headless (a script, papermill), `panel.wait()` must not hang nor let the next cell build a dataset without
    the person: it raises one line that says what to do; once every set is decided it returns at once."""
    from moranb.errors import MoranbError

    panel = data.FilterPanel(round1.dir)
    with pytest.raises(MoranbError, match=r"1 queued set\(s\) wait for a person and none can click here "
                                          r"\(not running in a Jupyter kernel\); settle them with a policy"):
        panel.wait(timeout=1)
    assert data.read_decisions(round1.dir) == {}  # nothing decided for the person
    panel.pick_buttons[1].click()
    assert panel.left == 0 and panel.wait(timeout=1) == 0 and panel._all_decided.is_set()
