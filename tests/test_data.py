"""Data-free training data: rounds, routing, resume, the human step (panel and headless), the dataset."""

import json

import pytest

from moranb import data, read_video
from moranb.agents import PromptAgent
from moranb.agents.judge import CRITERIA, Judgement
from moranb.errors import BackendError, InputError

pytestmark = pytest.mark.slow
SMALL = dict(segments=1, frames_per_segment=2, candidates=2, progress=False)


def scripted(name, picks):
    """A judge that answers `picks` in order (None = an abstention), recording the criterion it was given."""
    answers = iter(picks)

    def judge(prompt, videos, criterion):
        assert len(videos) == SMALL["candidates"] and criterion in CRITERIA
        pick = next(answers)
        return Judgement(judge=name, backend="scripted", criterion=criterion, pick=pick,
                         reason="scripted" if pick is not None else "could not parse", raw=str(pick))

    return judge


@pytest.fixture
def routed(tiny, tmp_path):
    """Round 1 with 3 prompts: the judges agree on set 0, disagree on set 1, and judge B abstains on set 2."""
    judges = [scripted("A", [0, 0, 1]), scripted("B", [0, 1, None])]
    return data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=3, judges=judges, **SMALL)


def test_rule_prompt_writer_is_seeded_distinct_and_avoids_earlier_prompts(tiny):
    agent = PromptAgent(tiny)
    first = agent.write_prompts(16, seed=1)
    assert len(set(first)) == 16 and first == agent.write_prompts(16, seed=1)
    second = agent.write_prompts(32, seed=2, avoid=first)
    assert len(set(second)) == 32 and not set(first) & set(second)
    assert data.prompts_in_round(1) == 16 and data.prompts_in_round(3) == 48


def test_llm_prompt_writer_parses_numbered_lines_and_says_when_it_wrote_too_few(tiny, monkeypatch):
    agent = PromptAgent(tiny, backend="openai")
    monkeypatch.setattr(agent, "_chat_openai", lambda messages: '1. a fox running in snow\n2) "a kite over a beach"\n'
                                                                 "- a boat in a storm at night\nok")
    assert agent.write_prompts(3) == ["a fox running in snow", "a kite over a beach", "a boat in a storm at night"]
    with pytest.raises(BackendError, match="wrote 3 usable new prompts of the 4"):
        agent.write_prompts(4)


def test_a_round_makes_one_set_per_prompt_with_k_candidates_judged_by_metrics(tiny, tmp_path):
    result = data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=3, **SMALL)
    assert len(result.sets) == 3 and result.made == [s.id for s in result.sets]
    prompts = json.loads((result.dir / "prompts.json").read_text())["prompts"]
    assert [s.prompt for s in result.sets] == prompts and len(set(prompts)) == 3
    for s in result.sets:
        assert len(s.candidates) == 2 and len(set(s.seeds)) == 2
        videos = [read_video(tmp_path / c / "video.mp4") for c in s.candidates]
        assert [v.num_frames for v in videos] == [2, 2]
        assert [j.backend for j in s.judgements] == ["metrics", "metrics"]
        agreed = s.judgements[0].pick is not None and s.judgements[0].pick == s.judgements[1].pick
        assert s.status == ("accepted" if agreed else "queued")
    lines = (result.dir / "sets.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["r01-s000", "r01-s001", "r01-s002"]


def test_agreement_is_accepted_and_disagreement_or_abstention_is_queued(routed):
    assert [s.status for s in routed.sets] == ["accepted", "queued", "queued"]
    assert routed.sets[0].pick == 0 and routed.sets[1].pick is None
    assert routed.agreement == pytest.approx(1 / 3)
    assert routed.abstentions() == {"A": 0, "B": 1}
    assert [s.id for s in data.pending(routed.dir)] == ["r01-s001", "r01-s002"]
    assert "1 (33%)" in routed.summary() and "2 queued" in routed.summary()


def test_an_interrupted_round_resumes_without_remaking_finished_sets(tiny, tmp_path, monkeypatch):
    import moranb.tasks

    class Stop(Exception):
        pass

    def judge_that_dies_on_set_2(prompt, videos, criterion, calls=[]):
        calls.append(prompt)
        if len(calls) == 2:
            raise Stop()
        return Judgement(judge="A", backend="scripted", criterion=criterion, pick=0, reason="", raw="0")

    with pytest.raises(Stop):
        data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=3,
                              judges=[judge_that_dies_on_set_2, scripted("B", [0])], **SMALL)
    assert len((tmp_path / "round-01" / "sets.jsonl").read_text().splitlines()) == 1

    made = []
    real = moranb.tasks.text_to_video
    monkeypatch.setattr(moranb.tasks, "text_to_video", lambda prompt, **kw: made.append(prompt) or real(prompt, **kw))
    again = data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=3,
                                  judges=[scripted("A", [1, 1]), scripted("B", [1, 0])], **SMALL)
    assert again.made == ["r01-s001", "r01-s002"] and len(again.sets) == 3
    first = json.loads((tmp_path / "round-01" / "prompts.json").read_text())["prompts"][0]
    assert first not in made and len(made) == 2 * 2  # two sets x two candidates, set 0 untouched
    assert [s.status for s in again.sets] == ["accepted", "accepted", "queued"]
    with pytest.raises(InputError, match="holds 3 prompts"):
        data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=4, **SMALL)


def test_round_two_writes_new_prompts(tiny, tmp_path, routed):
    second = data.synthesize_round(routed.dir.parent, round=2, profile=tiny, prompts=2,
                                   judges=[scripted("A", [0, 0]), scripted("B", [0, 0])], **SMALL)
    assert not {s.prompt for s in second.sets} & {s.prompt for s in routed.sets}
    assert [s.id for s in second.sets] == ["r02-s000", "r02-s001"]


def test_panel_clicks_append_at_once_and_a_new_panel_resumes_at_the_first_undecided_set(routed):
    panel = data.FilterPanel(routed.dir)
    assert panel.current.id == "r01-s001" and panel.left == 2 and "2 of 2 left" in panel.header.value
    assert [b.description for b in panel.pick_buttons] == ["Pick 1", "Pick 2"]
    assert "candidate 1" in panel.body.children[0].value and "abstained" not in panel.body.children[0].value
    panel.pick_buttons[1].click()
    lines = [json.loads(line) for line in (routed.dir / "decisions.jsonl").read_text().splitlines()]
    assert [(d["set"], d["decision"], d["pick"], d["by"]) for d in lines] == [("r01-s001", "pick", 1, "person")]
    assert panel.current.id == "r01-s002" and "1 of 2 left" in panel.header.value
    assert "abstained" in panel.body.children[0].value  # judge B could not answer on this set

    reopened = data.FilterPanel(routed.dir)
    assert reopened.current.id == "r01-s002"
    reopened.back_button.click()
    assert reopened.current.id == "r01-s001" and "decided: pick 2 (person)" in reopened.status.value
    reopened.discard_button.click()  # a new decision replaces the old one
    reopened.pick_buttons[0].click()
    assert reopened.current is None and "All 2 queued sets are decided" in reopened.header.value
    decided = data.read_decisions(routed.dir)
    assert decided["r01-s001"].decision == "discard" and decided["r01-s002"].pick == 0
    assert len((routed.dir / "decisions.jsonl").read_text().splitlines()) == 3


def test_headless_queue_from_a_policy_or_a_decisions_file(routed, tmp_path):
    summary = data.resolve_queue(routed.dir, policy="judge_b")
    # judge B picked candidate 2 on set 1 and abstained on set 2 (so it is discarded)
    assert summary == {"by": "policy:judge_b", "queued": 2, "picked": 1, "discarded": 1, "undecided": 0}
    decided = data.read_decisions(routed.dir)
    assert decided["r01-s001"].pick == 1 and decided["r01-s002"].decision == "discard"
    assert data.resolve_queue(routed.dir, policy="discard_all")["queued"] == 0  # nothing left to decide


def test_decisions_file_and_its_errors(routed, tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text(json.dumps({"set": "r01-s002", "decision": "pick", "pick": 1}) + "\n")
    summary = data.resolve_queue(routed.dir, decisions=good)
    assert summary["by"] == "file:mine.jsonl" and summary["picked"] == 1 and summary["undecided"] == 1
    assert data.read_decisions(routed.dir)["r01-s002"].by == "file:mine.jsonl"

    cases = [({"set": "r09-s000", "decision": "discard"}, "mine.jsonl:2: unknown set id 'r09-s000'"),
             ({"set": "r01-s001", "decision": "pick", "pick": 2}, "mine.jsonl:2: pick 2 is out of range"),
             ({"set": "r01-s001", "decision": "maybe"}, "mine.jsonl:2: decision 'maybe'")]
    for record, message in cases:
        good.write_text(json.dumps({"set": "r01-s001", "decision": "discard"}) + "\n" + json.dumps(record) + "\n")
        with pytest.raises(InputError, match=message):
            data.resolve_queue(routed.dir, decisions=good)
    good.write_text("{not json\n")
    with pytest.raises(InputError, match="mine.jsonl:1 is not a JSON object"):
        data.resolve_queue(routed.dir, decisions=good)
    with pytest.raises(InputError, match="unknown policy"):
        data.resolve_queue(routed.dir, policy="coin")


def test_dataset_holds_accepted_and_person_picked_samples(routed):
    with pytest.raises(data.EmptyDatasetError, match="no rounds"):
        data.build_dataset(routed.dir / "nowhere")
    data.record_decision(routed.dir, "r01-s001", "pick", 1)
    data.record_decision(routed.dir, "r01-s002", "discard")
    ds = data.build_dataset(routed.dir.parent)
    assert len(ds) == 2 and [m["decided_by"] for m in ds.meta] == ["judges", "person"]
    assert ds.summary()["discarded"] == 1 and ds.summary()["samples"] == 2
    sample = ds[1]
    assert sample.id == "r01-s001" and sample.meta["candidate"] == 1 and sample.meta["seed"] == routed.sets[1].seeds[1]
    assert sample.video.num_frames == sample.meta["frames"] == 2 and sample.first_frame.size == sample.video.size
    assert [j["judge"] for j in sample.meta["judges"]] == ["A", "B"]
    source = routed.dir.parent / routed.sets[1].candidates[1]
    # copied, not re-encoded
    assert (ds.path / sample.meta["video"]).read_bytes() == (source / "video.mp4").read_bytes()


def test_a_round_with_nothing_accepted_says_so(tiny, tmp_path):
    r = data.synthesize_round(tmp_path, round=1, profile=tiny, prompts=2,
                              judges=[scripted("A", [0, 0]), scripted("B", [1, None])], **SMALL)
    with pytest.raises(data.EmptyDatasetError, match="2 waiting for a person"):
        data.build_dataset(tmp_path)
    data.resolve_queue(r.dir, policy="discard_all")
    with pytest.raises(data.EmptyDatasetError, match="2 discarded"):
        data.build_dataset(tmp_path)
    assert not (tmp_path / "dataset").exists()
