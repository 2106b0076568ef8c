"""Private APIs of other packages are called in one place (moranb/_compat.py), and its guards fail closed."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The private names moranb relies on (see moranb/_compat.py): none may be used in the package outside _compat.
PRIVATE = {"_encode_image", "_encode_vae_image", "_get_add_time_ids", "_encode_prompt", "_resize_with_antialiasing",
           "_is_group_offload_enabled", "_repeated_blocks", "_BaseAutoModelClass", "_python_dispatch", "_pytree",
           "_normalize_latents", "_pack_latents", "_reply_subshell_for", "_create_subshell", "_delete_subshell",
           "_publish_status"}


def _used_names(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.ImportFrom):
            for part in (node.module or "").split("."):
                yield node.lineno, part
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PRIVATE:
            yield node.lineno, node.value  # getattr(x, "_name")


def test_private_third_party_apis_are_called_only_through_compat():
    found = []
    for path in sorted((ROOT / "moranb").rglob("*.py")):
        if path.name == "_compat.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{line}: {name}" for line, name in _used_names(tree) if name in PRIVATE]
    assert not found, "\n".join(found)


def test_the_safetensors_guard_fails_closed_without_transformers_auto_base(monkeypatch):
    from transformers import AutoModel

    from moranb import _compat, models
    from moranb.models import Model

    def gone():
        raise _compat.CompatError("transformers' _BaseAutoModelClass is gone")

    monkeypatch.setattr(_compat, "auto_model_class", gone)
    # An Auto class cannot be told from a tokenizer any more: the load is refused, never made without
    # use_safetensors.
    with pytest.raises(_compat.CompatError, match="_BaseAutoModelClass"):
        models.from_pretrained(AutoModel, Model("/nonexistent/model"), "llm")


def test_a_changed_private_api_names_the_version_it_was_written_against():
    from moranb import _compat

    class Pipeline:  # a pipeline of a future diffusers without _encode_image
        pass

    with pytest.raises(_compat.CompatError, match=r"diffusers 0\.42\.1.*diffusers==0\.42\.\*"):
        _compat.svd_encode_image(Pipeline(), None, "cpu", 1, False)


def test_import_contracts_hold():
    """The layers of docs/architecture.md, as import-linter reads them (make test also runs lint-imports)."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
