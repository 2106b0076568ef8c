"""The report's cells and the paper's tables (moranb.report): the exact text of every kind of cell, Table 1 as the
report, the VBench-protocol summary and the ablation write it, and Table 5."""

from moranb.paper import TABLE1, TABLE5
from moranb.report import cell, markdown_table, paper_table1, suite_report, suite_tables, table5, table5_markdown

NA = {"value": None, "backend": "offline", "reason": "needs the LAION aesthetic head"}


def test_a_cell_is_a_number_with_its_backend_or_says_why_not():
    assert cell({"value": 0.95123, "backend": "offline"}) == "0.951 (offline)"
    assert cell(NA) == "n/a (offline): needs the LAION aesthetic head"
    assert cell({"value": None, "backend": "vbench"}) == "n/a (vbench): no value"
    assert cell({"value": None, "backend": "vbench", "reason": ""}) == "n/a (vbench): no value"
    # Nothing scored: the text given for it, else an n/a with no backend.
    assert cell(None, "not run: no edit_video video scored for tcon") == "not run: no edit_video video scored for tcon"
    assert cell(None) == cell({}) == "n/a (-): no value"
    # The ablation's cells: an n/a without a reason ends at the backend; a detail follows the backend of a number.
    assert cell({"value": None, "backend": "offline", "reason": None}, no_reason=None) == "n/a (offline)"
    assert cell(NA, no_reason=None) == "n/a (offline): needs the LAION aesthetic head"
    assert cell({"value": 0.6123, "backend": "offline"}, detail=", 5 of 6 parts") == "0.612 (offline, 5 of 6 parts)"
    assert cell({"value": None, "backend": "offline"}, no_reason="a part is missing") == \
        "n/a (offline): a part is missing"


def test_table1_puts_the_published_rows_above_ours():
    rows = paper_table1("ours", lambda column: column.upper(), models=("Sora",))
    assert rows[0] == ["model", "video_quality", "subject_consistency", "background_consistency",
                       "motion_smoothness", "aesthetic_quality", "dynamic_degree", "imaging_quality", "temporal_style"]
    assert rows[1] == ["Sora", "0.797", "0.950", "0.960", "1.000", "0.600", "0.690", "0.580", "0.350"]
    assert rows[2] == ["ours", *(c.upper() for c in rows[0][1:])]
    assert [row[0] for row in paper_table1("ours", str)[1:-1]] == list(TABLE1)


def suite_results() -> dict:
    dimension = {"value": 0.95, "backend": "offline", "videos": 6, "prompts": 3, "suite_prompts": 72}
    return {"backend": "offline", "dimensions": {"subject_consistency": dimension},
            "quality_score": {"value": None, "backend": "offline", "reason": "the Quality Score needs x"},
            "semantic_score": {"value": 0.7, "backend": "offline"},
            "total_score": {"value": None, "backend": "offline"},
            "video_quality": {"value": None, "backend": "offline", "reason": "VQ needs aesthetic_quality"}}


def test_the_vbench_protocol_summary_beside_table1():
    dims, table1 = suite_tables(suite_results())
    assert dims[1] == ["subject_consistency", "0.950 (offline)", "6", "3 of 72"]
    assert dims[2:] == [["quality_score", "n/a (offline): the Quality Score needs x", "", ""],
                        ["semantic_score", "0.700 (offline)", "", ""],
                        ["total_score", "n/a (offline): no value", "", ""]]
    assert [row[0] for row in table1[1:]] == [*TABLE1, "moranb (this folder)"]
    assert table1[-1][1:4] == ["n/a (offline): VQ needs aesthetic_quality", "0.950 (offline)", "not chosen"]
    report = suite_report(suite_results())
    assert "| Sora | 0.797 |" in report and "| subject_consistency | 0.950 (offline) | 6 | 3 of 72 |" in report


def test_table5_gives_each_variant_beside_the_paper():
    rows = [{"variant": "full", "label": "full", "paper_vq": TABLE5["full"], "backend": "offline", "steps": 4,
             "samples": 3, "vq": None, "vq_reason": "needs aesthetic_quality", "vq5": 0.61234},
            {"variant": "no_finetuning", "label": "without fine-tuning", "paper_vq": TABLE5["no_finetuning"],
             "backend": "offline", "samples": 3, "vq": 0.5, "vq5": None},
            {"variant": "no_human", "label": "without human-in-the-loop", "paper_vq": TABLE5["no_human"],
             "backend": "offline", "note": "no set both judges agreed on"}]
    assert table5(rows)[1:] == [
        ["full", "0.800", "n/a (offline): needs aesthetic_quality", "0.612 (offline, 5 of 6 parts)", "3", "4"],
        ["without fine-tuning", "0.767", "0.500 (offline)", "n/a (offline): a part is missing",
         "none (not fine-tuned)", "0"],
        ["without human-in-the-loop", "0.785", "n/a: no set both judges agreed on", "n/a: not run", "0", "0"]]
    text = table5_markdown(rows)
    assert text.startswith("# Table 5: the ablation of the training half\n") and text.endswith(
        markdown_table(table5(rows)) + "\n")
