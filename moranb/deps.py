"""The two packages pip cannot resolve beside moranb, VBench and pyiqa, installed once, quietly, without their pins.

    python -m moranb.deps            # after `pip install "moranb[eval]"` (or [test], [colab]); `make setup` runs it

Why: VBench 0.1.5 (the evaluation's reference code) declares transformers==4.33.2 and numpy<2, and pyiqa 0.1.16
(VBench's imaging-quality backbone) declares bitsandbytes, datasets, pre-commit, ruff and more, while moranb runs on
transformers 5 and numpy 2. moranb imports only their code (the functions `tests/test_eval_parity.py` compares with
its own), so they go in with `--no-deps`, after what that code really needs (the `eval` extra in pyproject.toml, the
one list of dependencies). pip prints no resolver errors for a `--no-deps` install; a later plain `pip install` in the
same environment will list their stale pins as conflicts, which is expected and harmless here.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from .errors import MoranbError

NO_DEPS = ("vbench==0.1.5", "pyiqa==0.1.16")
HOW = 'pip install "moranb[eval]" && python -m moranb.deps'


def missing() -> list[str]:
    """The requirements of `NO_DEPS` not installed at their version."""
    out = []
    for requirement in NO_DEPS:
        name, version = requirement.split("==")
        try:
            if importlib.metadata.version(name) != version:
                out.append(requirement)
        except importlib.metadata.PackageNotFoundError:
            out.append(requirement)
    return out


def need_vbench() -> None:
    """One clear line instead of a ModuleNotFoundError deep in an evaluation, when VBench's code is not installed."""
    import importlib.util

    if importlib.util.find_spec("vbench") is None:
        raise MoranbError(f"the evaluation runs VBench's own code, which is not installed here; install it with: {HOW}")


def install(quiet: bool = True) -> list[str]:
    """pip-install what `missing()` names, without dependencies; returns what it installed."""
    todo = missing()
    if todo:
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", *(["--quiet"] if quiet else []), *todo],
                       check=True)
    return todo


def main() -> int:
    done = install()
    print(f"moranb.deps: installed {', '.join(done)} without their pinned dependencies (see moranb/deps.py)" if done
          else "moranb.deps: VBench and pyiqa already installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
