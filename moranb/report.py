"""Our numbers beside the paper's: table cells, the paper's tables (1, 2 and 5) as markdown and CSV, and a chart.

    from moranb.report import write_report
    write_report(results, "outputs/tiny/report")   # results: what moranb.eval.evaluate returned

Each of our cells carries the backend that produced it ("0.9312 (offline)"), so a stand-in is never read as a
VBench number; `cell` writes every one of them, `paper_table1` every Table 1. Rows: Table 1 (text-to-video) with
Sora and Mora beside ours, and Table 2 (the other tasks); `suite_report` gives VBench's protocol
(`moranb.eval.suite_eval.evaluate_suite`) beside Table 1, `table5_markdown` the ablation (`moranb.ablation`) beside
Table 5.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from .eval import aggregate
from .eval.quality import VQ_PARTS
from .io import save_figure, write_text
from .paper import REPORTED_VBENCH_TOTAL, SOURCE, TABLE1, TABLE1_COLUMNS, TABLE2, TABLE2_MODELS, table1_row

OURS_RUN, OURS_FOLDER = "moranb (this run)", "moranb (this folder)"


def _ours_by_task(results: dict) -> dict[str, dict]:
    """Mean of each metric over our videos of each task ("all" for every video)."""
    by_task: dict[str, list] = {}
    for row in results["videos"]:
        by_task.setdefault(row["task"] or "all", []).append(row)
    by_task["all"] = results["videos"]
    return {task: aggregate(rows, results["backend"]) for task, rows in by_task.items()}


# -- cells --------------------------------------------------------------------------------------------------------
def cell(entry: dict | None, missing: str | None = None, no_reason: str | None = "no value", detail: str = "") -> str:
    """Our number with its backend ("0.931 (offline)"), or why there is none ("n/a (offline): <reason>"): never a
    bare dash. `entry`: {"value", "backend", "reason"?} as `moranb.eval` gives them.

    `missing`: the whole cell when `entry` is None (nothing scored); without it such a cell is "n/a (-): no value".
    `no_reason`: what an n/a cell says when its entry gives no reason; None: the cell ends at the backend.
    `detail`: said after the backend of a number, e.g. ", 5 of 6 parts" gives "0.612 (offline, 5 of 6 parts)"."""
    if entry is None and missing is not None:
        return missing
    entry = entry or {}
    if entry.get("value") is None:
        reason = entry.get("reason") or no_reason
        return f"n/a ({entry.get('backend', '-')})" + (f": {reason}" if reason else "")
    return f"{entry['value']:.3f} ({entry['backend']}{detail})"


def _not_run(task: str, metric: str) -> str:
    return f"not run: no {task} video scored for {metric}"


def paper_cell(value) -> str:
    """A published number of Table 1 as the paper prints it: three decimals; a count (the video length) as is."""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# -- the paper's tables -------------------------------------------------------------------------------------------
def paper_table1(label: str, ours: Callable[[str], str], models=tuple(TABLE1)) -> list[list[str]]:
    """The paper's Table 1 without its video length: a header, the published row of each of `models`, and our row
    last, `label` with `ours(column)` in each column."""
    columns = TABLE1_COLUMNS[:-1]
    rows = [["model", *columns]]
    rows += [[model, *map(paper_cell, TABLE1[model][:-1])] for model in models]
    rows.append([label, *map(ours, columns)])
    return rows


def table1(results: dict) -> list[list[str]]:
    """Table 1 of `moranb.eval.evaluate`'s results: Sora and Mora beside our text-to-video videos (or all of ours)."""
    ours = _ours_by_task(results)
    mine = ours.get("text_to_video", ours["all"])
    return paper_table1(OURS_RUN, lambda c: cell(mine.get(c), _not_run("text_to_video", c)),
                        models=("Sora", "Mora (SVD), no fine-tuning", "Mora (OSP), fine-tuned"))


def reported() -> list[list[str]]:
    """The context rows beside Table 1: VBench Total Scores reported elsewhere, each with its source."""
    rows = [["model (reported elsewhere, not measured here)", "VBench Total Score", "source"]]
    rows += [[model, f"{value:.1%}", source] for model, (value, source) in REPORTED_VBENCH_TOTAL.items()]
    return rows


REPORTED_NOTE = ("Context, reported elsewhere: the VBench Total Scores of today's open video models (the `wan` and "
                 "`wan16` profiles' family) as others report them. They are not Table 1's VQ (a mean of six "
                 "dimensions; VBench's Total weighs sixteen) and are not measured by moranb; our rows are.")


def table2(results: dict) -> list[list[str]]:
    ours = _ours_by_task(results)
    rows = [["task", "metric", *TABLE2_MODELS, OURS_RUN]]
    for task, metrics in TABLE2.items():
        for metric, paper in metrics.items():
            mine = cell(ours.get(task, {}).get(metric), _not_run(task, metric))
            rows.append([task, metric, f"{paper[0]:.2f}", f"{paper[1]:.2f}", mine])
    return rows


def table5(rows: list[dict]) -> list[list[str]]:
    """Table 5 of `moranb.ablation.run_ablation`'s rows: each variant's VQ beside the paper's."""
    table = [["variant", "paper VQ", "VQ (this run)", "VQ without aesthetic quality (this run)", "samples",
              "steps"]]
    for r in rows:
        if "note" in r:
            table.append([r["label"], f"{r['paper_vq']:.3f}", f"n/a: {r['note']}", "n/a: not run", "0", "0"])
            continue
        vq = cell({"value": r["vq"], "backend": r["backend"], "reason": r.get("vq_reason")}, no_reason=None)
        vq5 = cell({"value": r["vq5"], "backend": r["backend"]}, no_reason="a part is missing",
                   detail=", 5 of 6 parts")
        trained = "steps" in r
        table.append([r["label"], f"{r['paper_vq']:.3f}", vq, vq5,
                      str(r["samples"]) if trained else "none (not fine-tuned)", str(r.get("steps", 0))])
    return table


def table5_markdown(rows: list[dict]) -> str:
    """table5.md of the ablation: Table 5 with where the paper's numbers come from."""
    return (f"# Table 5: the ablation of the training half\n\nPaper numbers from {SOURCE} (VQ, VBench). "
            f"\"VQ without aesthetic quality\" is the mean of the other five parts: the offline backend has no "
            f"weight-free aesthetic score.\n\n"
            f"{markdown_table(table5(rows))}\n")


def suite_tables(results: dict) -> tuple[list[list[str]], list[list[str]]]:
    """Two tables of `moranb.eval.suite_eval.evaluate_suite`'s results: every dimension on its own prompts (with
    VBench's Quality, Semantic and Total Scores), and the paper's Table 1 columns beside the models it compares."""
    dims = [["dimension", OURS_FOLDER, "videos", "prompts with a video"]]
    for name, entry in results["dimensions"].items():
        dims.append([name, cell(entry), str(entry["videos"]), f"{entry['prompts']} of {entry['suite_prompts']}"])
    for name in ("quality_score", "semantic_score", "total_score"):
        dims.append([name, cell(results[name]), "", ""])
    ours = {**results["dimensions"], "video_quality": results["video_quality"]}
    return dims, paper_table1(OURS_FOLDER, lambda c: cell(ours[c]) if c in ours else "not chosen")


def suite_report(results: dict) -> str:
    """The two tables of `suite_tables` as markdown, with where the published numbers come from."""
    dims, beside = suite_tables(results)
    return (f"## VBench's protocol, {results['backend']} backend: each dimension on its own prompts\n\n"
            f"{markdown_table(dims)}\n## Beside the paper's Table 1\n\nPublished numbers: {SOURCE}, Table 1. Ours "
            f"are scored on the prompts of this folder only; a slice of the suite is not the full benchmark.\n\n"
            f"{markdown_table(beside)}")


# -- markdown, CSV, the chart and the report's files --------------------------------------------------------------
def markdown_table(rows: list[list]) -> str:
    """A markdown table: the first row is the header; cells are written with `str`."""
    lines = ["| " + " | ".join(map(str, rows[0])) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[list]) -> str:
    """The same rows as CSV, header first."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def chart(results: dict, path):
    """Bars per VQ dimension (the paper's six): Sora, Mora (SVD) and this run (n/a left empty, backend in legend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ours = _ours_by_task(results)
    mine = ours.get("text_to_video", ours["all"])
    sora, mora = table1_row("Sora"), table1_row("Mora (SVD), no fine-tuning")
    x = np.arange(len(VQ_PARTS))
    fig, ax = plt.subplots(figsize=(10, 4.6), dpi=100)
    ax.bar(x - 0.27, [sora[d] for d in VQ_PARTS], 0.27, label="Sora (paper)", color="#9aa5b1")
    ax.bar(x, [mora[d] for d in VQ_PARTS], 0.27, label="Mora SVD (paper)", color="#4c78a8")
    values = [(mine.get(d) or {}).get("value") for d in VQ_PARTS]
    ax.bar(x + 0.27, [v if v is not None else 0 for v in values], 0.27,
           label=f"moranb, this run ({results['backend']} backend)", color="#f58518")
    for xi, v in zip(x, values):
        if v is None:
            ax.text(xi + 0.27, 0.02, "n/a", ha="center", fontsize=8, rotation=90)
    ax.set_xticks(x, [d.replace("_", "\n") for d in VQ_PARTS], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Video quality dimensions: this run against the paper's Table 1")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def write_report(results: dict, out_dir) -> dict[str, Path]:
    """report.md, table1.csv, table2.csv and chart.png in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t1, t2 = table1(results), table2(results)
    text = (f"# Evaluation against the paper\n\nBackend: **{results['backend']}** "
            f"({len(results['videos'])} videos). Paper numbers from {SOURCE}.\n\n"
            f"## Table 1: text-to-video\n\n{markdown_table(t1)}\n{REPORTED_NOTE}\n\n{markdown_table(reported())}\n"
            f"## Table 2: the other tasks\n\n{markdown_table(t2)}\n"
            "The tiny profile's models have random weights: its numbers test the pipeline, not the paper's claims.\n")
    return {
        "report": write_text(out / "report.md", text),
        "table1": write_text(out / "table1.csv", to_csv(t1)),
        "table2": write_text(out / "table2.csv", to_csv(t2)),
        "chart": chart(results, out / "chart.png"),
    }
