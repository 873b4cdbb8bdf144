"""The topics a dist-git push arrives on, and which form of body each one carries.

Three forms, under any prefix and environment (``org.fedoraproject.prod``, ``org.fedoraproject.stg``):

* ``<prefix>.git.receive``: the fedmsg dist-git hook's ``{"commit": {...}}`` body;
* ``<prefix>.git.receive.<repo>.<branch>``: the same body on the per-repository topics dist-git sent
  in fedmsg's pkgdb era (``org.fedoraproject.prod.git.receive.vim.f26``);
* ``<prefix>.pagure.git.receive``: Pagure's ``git.receive`` body, which dist-git sends today.
"""

from __future__ import annotations

import re
from enum import StrEnum

from ci_pipeline.errors import UnknownTopic
from ci_pipeline.messages.quoting import quote_value


class PushKind(StrEnum):
    """Which form of dist-git push a topic announces."""

    GIT_RECEIVE = "git.receive"
    PER_REPO = "git.receive.<repo>.<branch>"
    PAGURE = "pagure.git.receive"


_PREFIX = r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*"
# Per-repo topics carry the package name as dist-git spells it: capitals, '+' and dots included
# (perl-Moose, libsigc++, python-zope.interface); the body, not the topic, names the change.
_PER_REPO_TAIL = r"[A-Za-z0-9_][A-Za-z0-9._+-]*\.[A-Za-z0-9._-]+"
_KINDS: tuple[tuple[PushKind, re.Pattern[str]], ...] = (
    (PushKind.PAGURE, re.compile(rf"{_PREFIX}\.pagure\.git\.receive")),
    (PushKind.GIT_RECEIVE, re.compile(rf"{_PREFIX}\.git\.receive")),
    (PushKind.PER_REPO, re.compile(rf"{_PREFIX}\.git\.receive\.{_PER_REPO_TAIL}")),
)
#: Longer topics are not ones dist-git sends (and would not fit the store's topic column).
MAX_TOPIC_LENGTH = 255


def push_kind(topic: str) -> PushKind | None:
    """The push form ``topic`` announces, or None when it is no dist-git push topic."""
    if len(topic) > MAX_TOPIC_LENGTH:
        return None
    return next((kind for kind, pattern in _KINDS if pattern.fullmatch(topic)), None)


def require_push_kind(topic: str) -> PushKind:
    """The push form ``topic`` announces; UnknownTopic, naming the topic, when it is none."""
    kind = push_kind(topic)
    if kind is None:
        raise UnknownTopic(
            f"Topic {quote_value(topic)} is not a dist-git push topic (git.receive, "
            "git.receive.<repo>.<branch> or pagure.git.receive)."
        )
    return kind
