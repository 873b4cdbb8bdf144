"""One pushed dist-git branch head, whichever message form announced it."""

from __future__ import annotations

from dataclasses import dataclass

#: The namespace of a push that names none (dist-git before namespaces held only rpms).
DEFAULT_NAMESPACE = "rpms"


@dataclass(frozen=True, slots=True)
class GitPush:
    """One pushed dist-git commit, validated; ``msg_id`` and ``topic`` are empty when unknown.

    ``path`` is where the repository lives: its path on the server for a fedmsg push, its Pagure
    ``fullname`` (``rpms/vim``, ``forks/alice/rpms/vim``) for a Pagure one.
    """

    repo: str
    rev: str
    branch: str
    namespace: str
    path: str = ""
    username: str = ""
    agent: str = ""
    summary: str = ""
    message: str = ""
    name: str = ""
    email: str = ""
    msg_id: str = ""
    topic: str = ""
    fork: bool = False

    @property
    def change(self) -> tuple[str, str, str]:
        """What identifies the change across the pipeline: ``(repo, rev, namespace)``."""
        return (self.repo, self.rev, self.namespace)

    @property
    def is_fork(self) -> bool:
        """Whether the push went to a user's fork rather than the package's own repository."""
        return self.fork or "/forks/" in self.path
