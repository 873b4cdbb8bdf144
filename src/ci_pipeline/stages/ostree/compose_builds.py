"""The CI builds a compose installs: per package of the branch, the newest whose functional tests passed.

The scheduler decides the set from the store (:mod:`ci_pipeline.store.builds`) when it starts the
compose and hands it over in the field ``compose_builds``: a JSON object from package (dist-git
repo) name to the URL of that build's own yum repository, the build stage's ``build_repo_url``
(``package_url`` for a build that has none). The run's own build, whose functional tests have just
passed, always stands for its package. A build that failed never enters the set, so it cannot
reach a compose.

Each repository is read from the artifact root; a worker that does not share the scheduler's root
fetches the ones it lacks from the artifact server. Names and URLs are checked before they reach a
path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_pipeline.artifacts_http import ArtifactClient, relative_to_base, safe_relative
from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.artifacts import artifact_root, build_repo_url
from ci_pipeline.stages.fields import is_valid_field

#: The compose's input field: ``{"<package>": "<yum repo URL>", ...}`` as JSON.
BUILDS_FIELD = "compose_builds"


@dataclass(frozen=True)
class ComposeBuild:
    """One CI build a compose installs: its package name, its repository's URL and local directory."""

    name: str
    url: str
    path: Path


def compose_builds_field(
    own_repo: str, own_fields: Mapping[str, Any], good: Iterable[tuple[str, Mapping[str, Any]]]
) -> dict[str, str]:
    """The compose's ``compose_builds`` field: the good builds ``(repo, run fields)``, with the run's own."""
    builds = {repo: url for repo, fields in good if (url := build_repo_url(fields))}
    own = build_repo_url(own_fields)
    if own:
        builds[own_repo] = own  # the run composes its own build, even if a newer one passed meanwhile
    return {BUILDS_FIELD: json.dumps(builds, sort_keys=True)}


def requested_builds(fields: Mapping[str, str]) -> dict[str, str]:
    """The builds of ``compose_builds`` and the run's own, by package; StageFailure when malformed."""
    builds: dict[str, str] = {}
    raw = fields.get(BUILDS_FIELD, "")
    if raw:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise StageFailure(f"The run's {BUILDS_FIELD} field is not JSON.") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StageFailure(f"The run's {BUILDS_FIELD} field is not an object of package names and URLs.")
        builds.update(data)
    own = build_repo_url(fields)
    if own and fields.get("repo"):
        builds[fields["repo"]] = own
    for name in builds:
        if not is_valid_field("repo", name):
            raise StageFailure(f"The package name {name[:100]!r} in {BUILDS_FIELD} is not a valid name.")
    return builds


def locate_builds(
    config: Config, builds: Mapping[str, str], client: ArtifactClient | None = None
) -> list[ComposeBuild]:
    """The local repository of each build, fetched (with ``client``) when this artifact root lacks it."""
    root = artifact_root(config)
    located = []
    own_client = None
    try:
        for name, url in sorted(builds.items()):
            directory_url = url if url.endswith("/") else f"{url}/"
            relative = relative_to_base(directory_url, config.artifacts_base_url)
            if relative is None:
                raise StageFailure(
                    f"The {name} build to compose, {url[:200]!r}, is not under the artifact base URL "
                    f"{config.artifacts_base_url}."
                )
            path = root / safe_relative(relative)
            if not _is_repo(path):
                if client is None:
                    client = own_client = ArtifactClient(config)
                path = _fetch(client, name, relative)
            located.append(ComposeBuild(name=name, url=url, path=path))
    finally:
        if own_client is not None:
            own_client.client.close()
    return located


def _is_repo(path: Path) -> bool:
    return (path / "repodata" / "repomd.xml").is_file()


def _fetch(client: ArtifactClient, name: str, relative: str) -> Path:
    try:
        path = client.fetch(relative)
    except InfrastructureError as exc:
        raise InfrastructureError(
            f"The {name} build to compose is not in the artifact root and could not be fetched: {exc}"
        ) from exc
    if not _is_repo(path):
        raise StageFailure(f"The {name} build to compose, at {relative}, is not a yum repository.")
    return path
