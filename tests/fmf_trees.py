"""Writing fmf trees (tmt metadata) for tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def fmf_tree(root: Path, files: Mapping[str, str]) -> Path:
    """An fmf tree at ``root`` (its ``.fmf/version``) holding ``files`` (relative path: text)."""
    (root / ".fmf").mkdir(parents=True, exist_ok=True)
    (root / ".fmf" / "version").write_text("1\n")
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root
