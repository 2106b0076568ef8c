"""Our numbers beside the paper's: markdown and CSV tables and a chart.

    from moranb.report import write_report
    write_report(results, "outputs/tiny/report")   # results: what moranb.eval.evaluate returned

Each of our cells carries the backend that produced it ("0.9312 (offline)"), so a stand-in is never read as a
VBench number. Rows: Table 1 (text-to-video) with Sora and Mora beside ours, and Table 2 (the other tasks).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .eval.quality import VQ_PARTS
from .io import save_figure, write_text
from .paper import SOURCE, TABLE1, TABLE1_COLUMNS, TABLE2, TABLE2_MODELS, table1_row


def _ours_by_task(results: dict) -> dict[str, dict]:
    """Mean of each metric over our videos of each task ("all" for every video)."""
    from .eval import aggregate

    by_task: dict[str, list] = {}
    for row in results["videos"]:
        by_task.setdefault(row["task"] or "all", []).append(row)
    by_task["all"] = results["videos"]
    return {task: aggregate(rows, results["backend"]) for task, rows in by_task.items()}


def _cell(entry, task: str, metric: str) -> str:
    """Our number with its backend, or why there is none: never a bare dash."""
    if entry is None:
        return f"not run: no {task} video scored for {metric}"
    if entry.get("value") is None:
        return f"n/a ({entry['backend']}): {entry.get('reason') or 'no value'}"
    return f"{entry['value']:.3f} ({entry['backend']})"


def table1(results: dict) -> list[list[str]]:
    ours = _ours_by_task(results)
    mine = ours.get("text_to_video", ours["all"])
    header = ["model"] + TABLE1_COLUMNS[:-1]
    rows = [header]
    for model in ("Sora", "Mora (SVD), no fine-tuning", "Mora (OSP), fine-tuned"):
        rows.append([model] + [f"{v:.3f}" if isinstance(v, float) else str(v) for v in TABLE1[model][:-1]])
    rows.append(["moranb (this run)"] + [_cell(mine.get(c), "text_to_video", c) for c in TABLE1_COLUMNS[:-1]])
    return rows


def table2(results: dict) -> list[list[str]]:
    ours = _ours_by_task(results)
    rows = [["task", "metric", *TABLE2_MODELS, "moranb (this run)"]]
    for task, metrics in TABLE2.items():
        for metric, paper in metrics.items():
            mine = _cell(ours.get(task, {}).get(metric), task, metric)
            rows.append([task, metric, f"{paper[0]:.2f}", f"{paper[1]:.2f}", mine])
    return rows


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
            f"## Table 1: text-to-video\n\n{markdown_table(t1)}\n"
            f"## Table 2: the other tasks\n\n{markdown_table(t2)}\n"
            "The tiny profile's models have random weights: its numbers test the pipeline, not the paper's claims.\n")
    return {
        "report": write_text(out / "report.md", text),
        "table1": write_text(out / "table1.csv", to_csv(t1)),
        "table2": write_text(out / "table2.csv", to_csv(t2)),
        "chart": chart(results, out / "chart.png"),
    }
