"""The shape of ``ci_pipeline.stages``: entry modules on top, shared helpers in subpackages.

A stage's entry module (the one the pipeline definition names) is never imported as a library by
another module of ``stages/``: what two stages share lives in a helper subpackage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ci_pipeline.stages
from ci_pipeline.engine.definition import BUILTIN_STAGES
from ci_pipeline.stages.sti.playbooks import ROLES_DIR

STAGES_DIR = Path(ci_pipeline.stages.__file__).parent
ENTRY_MODULES = frozenset(spec.partition(":")[0] for spec in BUILTIN_STAGES.values())
HELPER_PACKAGES = ("git", "rpm", "ostree", "sti", "qemu")


def module_name(path: Path, root: Path = STAGES_DIR) -> str:
    """The dotted name of a module file under ``stages/`` (``root``)."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("ci_pipeline", "stages", *parts))


def imported_modules(path: Path, root: Path = STAGES_DIR) -> set[str]:
    """Every module ``path`` imports, with ``from package import module`` counted as the module."""
    names: set[str] = set()
    own = module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def stage_sources() -> list[Path]:
    """Every Python module of ``stages/`` but the Ansible plugins shipped with the roles."""
    return sorted(p for p in STAGES_DIR.rglob("*.py") if "roles" not in p.relative_to(STAGES_DIR).parts)


def test_every_entry_module_is_a_top_level_module_of_stages() -> None:
    assert len(ENTRY_MODULES) == len(set(BUILTIN_STAGES.values())) == 7
    for module in ENTRY_MODULES:
        assert module.count(".") == 2 and (STAGES_DIR / f"{module.rpartition('.')[2]}.py").is_file()


@pytest.mark.parametrize("path", stage_sources(), ids=lambda p: str(p.relative_to(STAGES_DIR)))
def test_no_stages_module_imports_a_stage_entry_module(path: Path) -> None:
    own = module_name(path)
    imported = imported_modules(path) & ENTRY_MODULES - {own}
    assert not imported, f"{own} imports the stage entry module(s) {sorted(imported)}: move it to a helper"


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    forms = {
        "from ci_pipeline.stages.smoke import run_image\n": "ci_pipeline.stages.smoke",
        "from ci_pipeline.stages import build\n": "ci_pipeline.stages.build",
        "import ci_pipeline.stages.e2e\n": "ci_pipeline.stages.e2e",
        "from .. import compose\n": "ci_pipeline.stages.compose",
        "from ..image import boot_dir\n": "ci_pipeline.stages.image",
    }
    (tmp_path / "qemu").mkdir()
    for source, entry in forms.items():
        module = tmp_path / "qemu" / "probe.py"
        module.write_text(source)
        assert entry in ENTRY_MODULES
        assert entry in imported_modules(module, tmp_path), source
    module.write_text("from ci_pipeline.stages.qemu.boot import qemu_command\nimport os\n")
    assert not imported_modules(module, tmp_path) & ENTRY_MODULES


def test_helpers_live_in_their_subpackages() -> None:
    for package in HELPER_PACKAGES:
        assert (STAGES_DIR / package / "__init__.py").is_file()
    top_level = {p.stem for p in STAGES_DIR.glob("*.py")} - {"__init__"}
    entries = {module.rpartition(".")[2] for module in ENTRY_MODULES}
    # Beside the entry modules only the stage contract and the modules every stage uses.
    assert top_level - entries == {"base", "tools", "fields", "artifacts"}


def test_the_sti_roles_ship_beside_the_stages() -> None:
    assert ROLES_DIR == STAGES_DIR / "roles"
    assert (ROLES_DIR / "standard-test-basic").is_dir() and (ROLES_DIR / "_plugins").is_dir()
