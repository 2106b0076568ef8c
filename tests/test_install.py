"""One dependency truth and the Colab path (issue 24).

pyproject.toml declares what each use needs; the Makefile and environment.yml install from it; every notebook's
install cell and the README's Colab badges come from its [project.urls]. The slow test takes the path a Colab user
takes: a fresh runtime holding only torch and a Jupyter kernel, `pip install .` alone for the command line, then the
notebooks' own install cell (pointed at this clone) and notebooks 00 (`tiny`) and 13 (`mini`) under papermill.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from moranb import deps
from moranb.suite import PROJECT, install_cell, install_cells, repository

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
MAKEFILE = (PROJECT / "Makefile").read_text()


def torch_pins() -> list[str]:
    return re.search(r"^TORCH\s*:=\s*(.+)$", MAKEFILE, re.M).group(1).split()


def test_the_makefile_and_environment_yml_install_what_pyproject_declares():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"eval", "notebooks", "colab", "test"} <= set(extras)
    # the Makefile: torch pinned first, then the project with its test extra, then VBench without its pins
    install = re.findall(r"\$\(PIP\) install (.+)", MAKEFILE)
    assert install == ["--quiet $(TORCH)", '--quiet -e ".[test]"'], install
    assert "$(PY) -m moranb.deps" in MAKEFILE
    assert not re.search(r"vbench==|pyiqa==|timm|decord|openai-clip", MAKEFILE)  # no second list of VBench's needs
    # environment.yml: the same torch pins and the project's own extras, nothing listed twice
    lines = (PROJECT / "environment.yml").read_text().split("- pip:")[1].split("\n")
    listed = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
    assert listed[:2] == torch_pins()
    assert len(listed) == 3 and re.fullmatch(r"-e \.\[([a-z,]+)\]", listed[2])
    assert set(re.fullmatch(r"-e \.\[([a-z,]+)\]", listed[2]).group(1).split(",")) <= set(extras)
    # test pulls in eval and notebooks; colab does not pin a kernel (Colab has its own)
    assert "moranb[eval,notebooks]" in extras["test"]
    assert not any(r.startswith(("ipykernel", "jupyterlab", "torch")) for r in extras["colab"])
    # the tiny profile's CLIP vocabulary comes with a plain install
    assert any(r.startswith("openai-clip") for r in PYPROJECT["project"]["dependencies"])


def test_vbench_and_pyiqa_are_installed_at_the_versions_moranb_deps_names():
    assert deps.missing() == [], "run `python -m moranb.deps`"


def test_without_vbench_an_evaluation_says_how_to_install_it(monkeypatch):
    import importlib.util

    from moranb.errors import MoranbError
    from moranb.eval.core import check_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vbench" else real(name, *a))
    with pytest.raises(MoranbError, match=re.escape(deps.HOW)):
        check_backend("offline")
    assert check_backend("offline", vbench=False) == "offline"  # the pixel-only metrics need none of it


def test_every_install_cell_and_colab_badge_comes_from_the_project_address():
    url = repository()
    assert url == PYPROJECT["project"]["urls"]["Repository"].rstrip("/")
    assert install_cells(write=False) == [], "run `python -m moranb.suite install-cells`"
    readme = (PROJECT / "README.md").read_text()
    for nb in sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = next(c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        assert "".join(first["source"]) == install_cell(url)
        slug = url.removeprefix("https://github.com/")
        assert f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{nb.name}" in readme
    assert f"git+{url}" in install_cell(url)


def test_a_changed_address_makes_the_cells_stale(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, tmp_path / name)
    shutil.copytree(PROJECT / "notebooks", tmp_path / "notebooks")
    text = (tmp_path / "pyproject.toml").read_text().replace(repository(), "https://github.com/someone/fork")
    (tmp_path / "pyproject.toml").write_text(text)
    stale = install_cells(tmp_path, write=False)
    assert len(stale) == len(list((tmp_path / "notebooks").glob("[0-9][0-9]_*.ipynb"))) + 1
    install_cells(tmp_path)  # rewrites them
    assert install_cells(tmp_path, write=False) == []
    assert "someone/fork/blob/main/notebooks/00_quickstart.ipynb" in (tmp_path / "README.md").read_text()


def copy_clone(to):
    """This checkout's files as a clone has them (tracked, and new files git does not ignore)."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=PROJECT, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, names):
        if (PROJECT / name).is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, to / name)
    return to


def preinstall_torch(runtime, py) -> bool:
    """Colab's preinstalled torch and torchvision, in `runtime` without pip's 5 GB unpack: this environment's copies
    of them and of what they require, hard-linked (the same files, nothing copied) into a folder the runtime reads
    through a .pth file. False where hard links cannot be made (another filesystem): then pip installs them."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    site = next((runtime / "lib").glob("python*/site-packages"))
    folder = runtime / "preinstalled"
    todo, seen, linked = [("torch", ()), ("torchvision", ())], set(), set()
    while todo:
        name, extras = todo.pop()
        name = name.lower().replace("_", "-")
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = md.distribution(name)
        for requirement in dist.requires or []:  # with the extras asked for (torch: cuda-toolkit[cufile, ...])
            r = Requirement(requirement)
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ("", *extras)):
                todo.append((r.name, tuple(sorted(r.extras))))
        if name in linked:
            continue
        linked.add(name)
        for f in dist.files or []:
            source = Path(dist.locate_file(f))
            if not source.is_file() or ".." in f.parts:
                continue  # console scripts (bin/) are not needed
            target = folder / f
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.rmtree(folder)
                return False
    (site / "preinstalled.pth").write_text(str(folder) + "\n")
    return True


@pytest.mark.slow
def test_a_fresh_runtime_installs_moranb_from_the_install_cell_and_runs_notebooks(tmp_path, monkeypatch):
    import papermill as pm

    clone = copy_clone(tmp_path / "moranb-clone")
    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(runtime)], check=True)
    py, env = runtime / "bin" / "python", {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}

    def run(*args, **kw):
        done = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=1200, **kw)
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    # what a Colab runtime has before any cell runs: torch and a Jupyter kernel
    if not preinstall_torch(runtime, py):
        run(py, "-m", "pip", "install", "-q", *torch_pins())
    assert run(py, "-c", "import torch, torchvision; print(torch.__version__)").startswith(torch_pins()[0][7:])
    run(py, "-m", "pip", "install", "-q", "ipykernel")
    # `pip install .` alone: the command line on the tiny profile, which prints the prompt agent's prompt
    run(py, "-m", "pip", "install", "-q", clone)
    printed = run(runtime / "bin" / "moranb", "t2v", "a red fox running through snow", "--profile", "tiny",
                  "--out", tmp_path / "fox")
    assert (tmp_path / "fox" / "video.mp4").is_file()
    enhanced = (tmp_path / "fox" / "enhanced_prompt.txt").read_text().strip()
    assert enhanced and enhanced in printed
    run(py, "-m", "pip", "uninstall", "-y", "-q", "moranb")

    # the notebooks' own install cell, pointed at the clone, in a kernel of that runtime
    run(py, "-m", "ipykernel", "install", "--prefix", tmp_path / "jupyter", "--name", "runtime")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    monkeypatch.setenv("MORANB_SOURCE", str(clone))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    content = tmp_path / "content"  # Colab's working folder: no project around it
    content.mkdir()
    runs = {"00_quickstart": {"profile": "tiny", "segments": 1},
            "13_mini_loop": {"profile": "mini", "prompts": 2, "candidates": 2, "steps_per_round": 2, "captions": 4}}
    for name, parameters in runs.items():
        pm.execute_notebook(str(clone / "notebooks" / f"{name}.ipynb"), str(content / f"{name}.ipynb"),
                            parameters={"out_dir": str(content / "outputs"), **parameters}, kernel_name="runtime",
                            cwd=str(content), progress_bar=False)
        record = json.loads((content / "outputs" / f"{name}.json").read_text())
        assert record["notebook"] == name
    installed = run(py, "-m", "pip", "show", "moranb", "vbench")
    assert "Location: " + str(runtime) in installed and "Name: vbench" in installed
    assert not (clone / "notebooks" / "outputs").exists()
