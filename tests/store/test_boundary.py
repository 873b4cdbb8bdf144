"""store/ is the only place that speaks SQL: no module outside it imports SQLAlchemy or the models."""

from __future__ import annotations

import ast
from pathlib import Path

import ci_pipeline

PACKAGE = Path(ci_pipeline.__file__).resolve().parent
STORE = PACKAGE / "store"
FORBIDDEN = ("sqlalchemy", "ci_pipeline.store.models")


def _forbidden(name: str) -> bool:
    return any(name == root or name.startswith(f"{root}.") for root in FORBIDDEN)


def forbidden_imports(source: str) -> list[str]:
    """The modules among ``source``'s imports that only store/ may import, wherever they appear."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if _forbidden(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from a import b`` imports ``a.b`` when b is a module: the name counts as a.b then.
            named = [f"{node.module}.{alias.name}" for alias in node.names]
            if _forbidden(node.module):
                found.append(node.module)
            else:
                found.extend(name for name in named if _forbidden(name))
    return found


def test_no_module_outside_the_store_imports_sqlalchemy_or_the_models() -> None:
    modules = [path for path in PACKAGE.rglob("*.py") if STORE not in path.parents]
    assert len(modules) > 50  # the scan found the package
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in modules
        if (names := forbidden_imports(path.read_text("utf-8")))
    }
    assert offenders == {}


def test_the_scan_sees_every_form_of_import() -> None:
    source = (
        "import sqlalchemy\n"
        "import sqlalchemy.orm as orm\n"
        "from sqlalchemy.exc import DataError\n"
        "from ci_pipeline.store import models\n"
        "from ci_pipeline.store.models import Run\n"
        "def late():\n"
        "    from sqlalchemy import select\n"
        "from ci_pipeline.store import runs\n"
        "import sqlalchemyx\n"
    )
    assert forbidden_imports(source) == [
        "sqlalchemy",
        "sqlalchemy.orm",
        "sqlalchemy.exc",
        "ci_pipeline.store.models",
        "ci_pipeline.store.models",
        "sqlalchemy",
    ]
