"""Fault suite of the notebook surface (issue 22): a bad papermill parameter stops a notebook in its first cell after
the parameters (`moranb.notebook.start`), before any agent runs or anything is written, and shows as one line.

The papermill runs execute notebook 01 (the one whose agent cells ran before its task call refused a bad seed), each
in a fresh kernel (a few seconds apiece), the way `moranb.suite.reproduce` does.
"""

import ast
import json
import re

import pytest

from moranb.errors import InputError
from moranb.notebook import CHECKED, show_errors_as_one_line, start
from moranb.suite import NOTEBOOKS, notebooks

pytestmark = pytest.mark.slow

NOTEBOOK = NOTEBOOKS / "01_text_to_video.ipynb"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGES = {
    "empty_out_dir": "output directory is empty ('')",
    "negative_seed": "seed must be between 0 and 2**63-1; got -1",
    "text_seed": "seed must be a whole number; got 'abc' (str)",
}


def parameters_cell(cells: list) -> int:
    return next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))


def start_cell(cells: list) -> int:
    """The first code cell after the parameters (and after papermill's injected parameters, in an executed copy)."""
    after = parameters_cell(cells) + 1
    return next(i for i, c in enumerate(cells[after:], after) if c["cell_type"] == "code"
                and "injected-parameters" not in c.get("metadata", {}).get("tags", []))


def listing(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Notebook 01 run by papermill with each bad parameter, in an empty working folder: for each case the
    PapermillExecutionError, the executed notebook, and what the working folder and its surroundings held after."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    cases = {"empty_out_dir": {"out_dir": ""}, "negative_seed": {"seed": -1}, "text_seed": {"seed": "abc"}}
    found = {}
    for case, parameters in cases.items():
        base = tmp_path_factory.mktemp(case)
        work, out = base / "work", base / "out"
        work.mkdir()
        around = listing(base.parent)
        executed = base / "executed.ipynb"
        try:
            pm.execute_notebook(str(NOTEBOOK), str(executed), parameters={"out_dir": str(out), **parameters},
                                cwd=str(work), progress_bar=False, log_output=False)
        except PapermillExecutionError as exc:
            error = exc
        else:
            error = None  # the notebook ran to its end: each test below fails on that
        found[case] = {"error": error, "cells": json.loads(executed.read_text())["cells"],
                       "work": listing(work), "out": out.exists(),
                       "new_around": sorted(set(listing(base.parent)) - set(around) - {
                           f"{base.name}/executed.ipynb"})}
    return found


def test_an_empty_out_dir_is_refused_in_the_first_cell_and_nothing_is_written(runs):
    run = runs["empty_out_dir"]
    assert run["error"] is not None, "the notebook ran with out_dir ''"
    assert run["error"].ename == "InputError" and MESSAGES["empty_out_dir"] in run["error"].evalue
    assert "start(" in run["error"].source
    assert run["work"] == []  # not a file in the folder papermill ran in (out_dir '' would mean that folder)
    assert run["new_around"] == []  # nor beside it


@pytest.mark.parametrize("case", ["negative_seed", "text_seed"])
def test_a_bad_seed_stops_the_notebook_in_its_first_cell_after_the_parameters(runs, case):
    run = runs[case]
    error, cells = run["error"], run["cells"]
    assert error is not None, f"the notebook ran with {case}"
    assert error.ename == "InputError" and MESSAGES[case] in error.evalue  # 'abc': not torch's RuntimeError
    first = start_cell(cells)
    assert "start(" in error.source and "".join(cells[first]["source"]) == error.source
    assert cells[first]["execution_count"] == error.exec_count
    later = [c for c in cells[first + 1:] if c["cell_type"] == "code"]
    assert later and all(c["outputs"] == [] and c["execution_count"] is None for c in later)  # no agent ran
    assert not run["out"] and run["work"] == []


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_the_error_output_is_one_line_not_a_traceback(runs, case):
    cells = runs[case]["cells"]
    errors = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    assert len(errors) == 1  # an error output all the same: the cell fails, so papermill stops
    traceback = [ANSI.sub("", line) for line in errors[0]["traceback"]]
    assert len(traceback) <= 2 and MESSAGES[case] in "".join(traceback), traceback
    assert "Traceback" not in "".join(traceback)
    assert errors[0] in cells[start_cell(cells)]["outputs"]


@pytest.fixture
def shell(monkeypatch):
    """IPython's shell in this process, recording each error output (`_showtraceback`'s structured traceback)."""
    from IPython.core.interactiveshell import InteractiveShell

    shown = []
    instance = InteractiveShell.instance()
    original = instance._showtraceback
    monkeypatch.setattr(instance, "_showtraceback", lambda etype, value, stb: (shown.append(stb),
                                                                                original(etype, value, stb)))
    yield instance, shown
    instance.set_custom_exc((), None)


def test_other_errors_keep_their_traceback_and_a_moranb_error_is_one_line(shell):
    instance, shown = shell
    assert show_errors_as_one_line(instance) is instance
    result = instance.run_cell("def deep():\n    raise ZeroDivisionError('a bug, not a bad input')\n\ndeep()\n")
    assert not result.success and isinstance(result.error_in_exec, ZeroDivisionError)
    text = ANSI.sub("", "\n".join(shown[-1]))
    assert len(shown[-1]) > 2 and "Traceback" in text and "deep()" in text and "a bug, not a bad input" in text
    result = instance.run_cell("from moranb.notebook import start\nstart(seed=-1)\n")
    assert not result.success and isinstance(result.error_in_exec, InputError)
    assert shown[-1] == [f"InputError: {MESSAGES['negative_seed']}"]


def test_outside_ipython_start_only_checks():
    start(profile="tiny", seed=0, out_dir="outputs/tiny", prompt="a fox", segments=None, review="approve")
    with pytest.raises(InputError, match=re.escape(MESSAGES["text_seed"])):
        start(seed="abc")
    with pytest.raises(InputError, match="out_dir must be a folder name"):
        start(out_dir=None)
    with pytest.raises(InputError, match="segments must be at least 1"):
        start(segments=0)
    with pytest.raises(InputError, match="video_path 'nowhere.mp4' does not exist"):
        start(video_path="nowhere.mp4")
    with pytest.raises(TypeError, match="no check for a parameter named 'colour'"):
        start(colour="red")


def test_every_notebook_starts_by_checking_every_parameter_start_knows():
    for path in notebooks():
        cells = json.loads(path.read_text())["cells"]
        names = set(re.findall(r"^(\w+): ", "".join(cells[parameters_cell(cells)]["source"]), re.M))
        tree = ast.parse("".join(cells[start_cell(cells)]["source"]))
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "start"]
        assert len(calls) == 1, path.name
        assert {k.arg for k in calls[0].keywords} == names & set(CHECKED), path.name
        first = min(n.lineno for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Assign))
                    or any(isinstance(c, ast.Call) for c in ast.walk(n)))
        assert calls[0].lineno == first, f"{path.name}: start() is not the first call of its cell"
