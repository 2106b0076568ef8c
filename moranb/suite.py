"""The notebook suite: run every notebook headlessly with papermill, and keep the committed ones free of outputs.

    python -m moranb.suite reproduce --profile tiny --out outputs/tiny   # every notebook, via papermill
    python -m moranb.suite check                                         # notebooks committed without outputs?
    python -m moranb.suite strip                                         # remove outputs and execution counts
    python -m moranb.suite install-cells    # each notebook's install cell and the README's Colab badges, from the
                                            # project's address ([project.urls] in pyproject.toml)

What the notebooks themselves call (inline display, `record`) is `moranb.notebook`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import MoranbError, run_main

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PROJECT = NOTEBOOKS.parent
BADGES = ("<!-- colab badges: made by `python -m moranb.suite install-cells` from [project.urls] -->",
          "<!-- /colab badges -->")


def notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The suite, in order: notebooks/NN_name.ipynb."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def reproduce(profile: str = "tiny", out="outputs/tiny", folder: Path = NOTEBOOKS, only: list[str] | None = None,
              parameters: dict | None = None) -> list[Path]:
    """Run every notebook with papermill into `out`; stop at the first failure, naming the notebook and cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    chosen = [nb for nb in notebooks(folder) if not only or any(nb.stem.startswith(o) for o in only)]
    for nb in chosen:
        target = out / nb.name
        start = time.perf_counter()
        print(f"[reproduce] {nb.name} ...", flush=True)
        try:
            pm.execute_notebook(str(nb), str(target), parameters={"profile": profile, "out_dir": str(out),
                                                                  **(parameters or {})},
                                cwd=str(folder.parent), progress_bar=False, log_output=False)
        except PapermillExecutionError as exc:
            raise MoranbError(f"notebook {nb.name} failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} "
                              f"(executed copy: {target})") from None
        print(f"[reproduce] {nb.name} done in {time.perf_counter() - start:.1f}s", flush=True)
        done.append(target)
    return done


def dirty(paths) -> list[Path]:
    """The notebooks among `paths` that hold outputs or execution counts."""
    found = []
    for path in paths:
        nb = json.loads(Path(path).read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            found.append(Path(path))
    return found


def strip(paths) -> list[Path]:
    """Remove outputs and execution counts (and papermill's run metadata) in place."""
    import nbformat

    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nb.metadata.pop("papermill", None)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(Path(path))
    return changed


# JupyterLab settings `make setup` gives the venv's JupyterLab (its overrides.json): widget state is saved with the
# notebook, so a reopened notebook shows its widgets' last state instead of "Error displaying widget: model not found".
LAB_OVERRIDES = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


def lab_settings(prefix=None) -> Path:
    """Write `LAB_OVERRIDES` into `<prefix>/share/jupyter/lab/settings/overrides.json` (default: this Python's
    environment, where `make lab` finds it), keeping any other overrides there."""
    path = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for plugin, values in LAB_OVERRIDES.items():
        current[plugin] = {**current.get(plugin, {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return path


def repository(project: Path = PROJECT) -> str:
    """The project's public address: `Repository` in pyproject.toml's [project.urls]."""
    import tomllib

    with open(project / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def install_cell(url: str) -> str:
    """Every notebook's first code cell: install moranb where it is missing (Colab, a fresh runtime), from
    $MORANB_SOURCE, else a wheel or clone uploaded beside the notebook, else the project's address."""
    return f'''# Installs moranb where it is missing (Colab, a fresh runtime); in a clone after `make setup` it does nothing.
# From $MORANB_SOURCE if set, else a moranb wheel or clone uploaded beside this notebook, else the project's address.
import importlib, importlib.util, os, pathlib, subprocess, sys
if importlib.util.find_spec("moranb") is None:
    here = pathlib.Path.cwd()
    uploaded = sorted(here.glob("moranb-*.whl")) + sorted(p for p in here.glob("moranb*") if (p / "pyproject.toml").is_file())
    source = os.environ.get("MORANB_SOURCE") or (str(uploaded[-1]) if uploaded else "git+{url}")
    source = source if "://" in source else pathlib.Path(source).resolve().as_uri()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"moranb[colab] @ {{source}}"], check=True)
    subprocess.run([sys.executable, "-m", "moranb.deps"], check=True)  # VBench without its stale pins
    importlib.invalidate_caches()'''


def colab_badges(url: str, folder: Path = NOTEBOOKS) -> str:
    """The README's "Open in Colab" list: one badge per notebook, at the project's address."""
    path = url.removeprefix("https://github.com/")
    lines = [BADGES[0]]
    for nb in notebooks(folder):
        lines.append(f"- [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                     f"(https://colab.research.google.com/github/{path}/blob/main/notebooks/{nb.name}) `{nb.name}`")
    return "\n".join(lines + [BADGES[1]])


def install_cells(project: Path = PROJECT, write: bool = True) -> list[Path]:
    """The files whose install cell or badges differ from what the project's address makes; rewritten if `write`."""
    import nbformat

    url, stale = repository(project), []
    for path in notebooks(project / "notebooks"):
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if c.cell_type == "code")
        if cell.source != install_cell(url):
            stale.append(path)
            if write:
                cell.source = install_cell(url)
                nbformat.write(nb, path)
    readme = project / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(BADGES[0]), text.find(BADGES[1])
    if start < 0 or end < 0:
        raise MoranbError(f"README.md has no Colab badge markers ({BADGES[0]} ... {BADGES[1]})")
    new = text[:start] + colab_badges(url, project / "notebooks") + text[end + len(BADGES[1]):]
    if new != text:
        stale.append(readme)
        if write:
            readme.write_text(new, encoding="utf-8")
    return stale


def command(args: argparse.Namespace) -> int:
    if args.command == "reproduce":
        out = args.out or f"outputs/{args.profile}"
        done = reproduce(args.profile, out, only=args.only)
        print(f"[reproduce] {len(done)} notebooks executed into {out}")
        return 0
    if args.command == "check":
        found = dirty(notebooks())
        for path in found:
            print(f"{path}: has outputs; run `make strip`", file=sys.stderr)
        return 1 if found else 0
    if args.command == "lab-settings":
        print(f"wrote {lab_settings()}")
        return 0
    if args.command == "install-cells":
        for path in install_cells():
            print(f"rewrote {path}")
        return 0
    for path in strip(notebooks()):
        print(f"stripped {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moranb.suite")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run every notebook with papermill")
    rep.add_argument("--profile", default="tiny")
    rep.add_argument("--out", help="default: outputs/<profile>")
    rep.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 05")
    sub.add_parser("check", help="fail if a notebook holds outputs")
    sub.add_parser("strip", help="remove outputs from the notebooks")
    sub.add_parser("lab-settings", help="JupyterLab settings for this environment (widget state saved with notebooks)")
    sub.add_parser("install-cells", help="rewrite each notebook's install cell and the README's Colab badges from "
                                         "[project.urls]")
    args = parser.parse_args(argv)
    return run_main(lambda: command(args))


if __name__ == "__main__":
    sys.exit(main())
