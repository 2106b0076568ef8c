"""The notebook suite: run every notebook headlessly with papermill, and keep the committed ones free of outputs.

    python -m moranb.suite reproduce --profile tiny --out outputs/tiny   # every notebook, via papermill
    python -m moranb.suite check                                         # notebooks committed without outputs?
    python -m moranb.suite strip                                         # remove outputs and execution counts

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
    args = parser.parse_args(argv)
    return run_main(lambda: command(args))


if __name__ == "__main__":
    sys.exit(main())
