"""The stage contract is neutral ground: executors never import stages, and each package imports alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ci_pipeline

SOURCE = Path(ci_pipeline.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever in the module (function bodies too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _package_imports(package: str) -> dict[str, set[str]]:
    root = SOURCE / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else [SOURCE / f"{package}.py"]
    return {str(path.relative_to(SOURCE)): _imports(path) for path in files}


def _reaching(imports: dict[str, set[str]], *packages: str) -> list[str]:
    return [f"{module} imports {name}" for module, names in imports.items() for name in sorted(names)
            if any(name == package or name.startswith(f"{package}.") for package in packages)]


def test_executors_never_import_stages_engine_or_store() -> None:
    stages, engine, store = "ci_pipeline.stages", "ci_pipeline.engine", "ci_pipeline.store"
    assert _reaching(_package_imports("executors"), stages, engine, store) == []


def test_the_stage_contract_imports_none_of_its_users() -> None:
    users = [f"ci_pipeline.{name}" for name in ("executors", "stages", "engine", "store", "web", "cli")]
    assert _reaching(_package_imports("stage_contract"), *users) == []


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from ci_pipeline.stages.base import log_tail\n    import os.path\n")
    assert _imports(module) == {"ci_pipeline.stages.base", "os.path"}


@pytest.mark.parametrize("package", ["stage_contract", "executors", "executors.memory", "executors.registry",
                                     "stages", "stages.base", "engine", "store"])
def test_each_package_imports_first_in_a_fresh_interpreter(package: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import ci_pipeline.{package}"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
