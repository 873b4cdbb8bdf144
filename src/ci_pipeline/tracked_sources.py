"""The source packages the trigger tracks for a treefile, and which of its binaries made each one.

A treefile names binary packages; pushes name source packages. :func:`tracked_sources` maps one
to the other through the treefile repos' metadata (:mod:`ci_pipeline.repodata`). A binary found
in no repo is tracked by its own name (it may be a package on its way into the repos, whose first
push should run) and named in one warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ci_pipeline.errors import ConfigError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.repodata import source_packages
from ci_pipeline.treefile import Treefile

log = get_logger(__name__)

#: How many binaries a decision's reason names before it says "and N more".
NAMED_IN_REASON = 4


@dataclass(frozen=True)
class TrackedSources:
    """The tracked source packages, and for each the treefile binaries that come from it."""

    sources: frozenset[str]
    why: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def reason(self, source: str) -> str:
        """Words for a decision: "openssh-clients and openssh-server come from it", or ""."""
        binaries = self.why.get(source, ())
        if not binaries or binaries == (source,):
            return ""
        named = list(binaries[:NAMED_IN_REASON])
        if len(binaries) > NAMED_IN_REASON:
            named.append(f"{len(binaries) - NAMED_IN_REASON} more")
        listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        return f"{listed} {'comes' if len(binaries) == 1 else 'come'} from it"


def tracked_sources(
    binaries: Iterable[str], repos: Sequence[tuple[str, str]], cache_dir: Path
) -> TrackedSources:
    """The source packages of ``binaries`` in ``repos`` ((id, baseurl) pairs), cached under ``cache_dir``.

    Without repos there is nothing to map against and the names are tracked as they are. A repo
    that cannot be read raises ConfigError.
    """
    names = frozenset(binaries)
    if not repos:
        return TrackedSources(names)
    baseurls = [url for _, url in repos]
    found = source_packages(baseurls, names, cache_dir, repo_ids={url: repo for repo, url in repos})
    if found.unresolved:
        log.warning(
            "%d treefile package(s) are in none of the repos %s and are tracked by their own names: %s",
            len(found.unresolved),
            ", ".join(repo for repo, _ in repos),
            ", ".join(sorted(found.unresolved)),
        )
    why = {source: found.why(source) for source in found.sources}
    return TrackedSources(found.sources | found.unresolved, why)


def treefile_repos(treefile: Treefile) -> list[tuple[str, str]]:
    """(id, baseurl) of a treefile's repos; a repo with no baseurl (a metalink alone) is a ConfigError."""
    for repo in treefile.repos:
        if not repo.baseurl:
            raise ConfigError(
                f"The treefile repo {repo.id} has no baseurl in a .repo file beside {treefile.path}"
                " (metalink and mirrorlist are not followed)."
            )
    return treefile.repo_urls
