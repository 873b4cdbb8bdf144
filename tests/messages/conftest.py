"""Fixtures for the message contract: the seed examples in ``tests/data/seed``.

A missing seed fails the run loudly: it is the contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seed"
PIPELINE_MARK = ".ci.pipeline."


def _seed_messages_dir() -> Path:
    messages = SEED_DIR / "messages"
    if not messages.is_dir() or not any(messages.glob("*.json")):
        pytest.fail(f"The seed messages are missing: expected JSON files in {messages}.", pytrace=False)
    return messages


def seed_suffix(path: Path) -> str:
    """The schema name a seed file's topic maps to (``package.ignore``, ``git.receive``...)."""
    topic = path.stem
    return topic.split(PIPELINE_MARK, 1)[1] if PIPELINE_MARK in topic else "git.receive"


@pytest.fixture(scope="session")
def seed_suffix_of() -> Callable[[Path], str]:
    """The function mapping a seed file to its schema name."""
    return seed_suffix


@pytest.fixture(scope="session")
def seed_envelopes() -> dict[str, dict[str, Any]]:
    """Every seed envelope keyed by its schema name (``package.queued``, ``git.receive``...)."""
    return {
        seed_suffix(path): json.loads(path.read_text("utf-8"))
        for path in sorted(_seed_messages_dir().glob("*.json"))
    }


@pytest.fixture(scope="session")
def seed_bodies(seed_envelopes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The body (``msg``) of every seed envelope, keyed like :func:`seed_envelopes`."""
    return {suffix: envelope["msg"] for suffix, envelope in seed_envelopes.items()}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``seed_message_path`` over every file in ``tests/data/seed/messages``."""
    if "seed_message_path" in metafunc.fixturenames:
        paths = sorted(_seed_messages_dir().glob("*.json"))
        metafunc.parametrize("seed_message_path", paths, ids=[path.stem for path in paths])


@pytest.fixture(scope="session")
def run_fields(seed_bodies: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every field a run of the seed's vim change knows by its end, merged from the seed bodies."""
    merged: dict[str, str] = {}
    for suffix in ("package.queued", "package.complete", "compose.complete", "image.complete"):
        merged.update(seed_bodies[suffix])
    merged.pop("topic")
    return merged
