"""The trigger tracks the source packages a treefile's binaries come from, and says which binaries."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Decision
from ci_pipeline.tracked_sources import TrackedSources, tracked_sources, treefile_repos
from ci_pipeline.treefile import load_treefile
from ci_pipeline.trigger import Trigger
from repo_metadata import OPENSSH, write_repo

REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"


def treefile_world(root: Path, packages: list[str], repo_dir: str = "repos") -> Path:
    """A treefile with repo "fedora" defined by a .repo file in ``repo_dir`` beside it."""
    repo = write_repo(root / "mirror" / "x86_64", OPENSSH)
    (root / repo_dir).mkdir(parents=True, exist_ok=True)
    baseurl = repo.as_uri().replace("x86_64", "$basearch")
    (root / repo_dir / "fedora.repo").write_text(f"[fedora]\nname=Fedora\nbaseurl={baseurl}\ngpgcheck=0\n")
    treefile = root / "fedora-atomic-host.json"
    treefile.write_text(json.dumps({"ref": "fedora/26/x86_64/atomic-host", "repos": ["fedora"],
                                    "packages": packages}))
    return treefile


def with_treefile(config: Config, treefile: Path) -> Config:
    trigger = config.trigger.model_copy(update={"treefile": str(treefile), "packages": []})
    return config.model_copy(update={"trigger": trigger})


@pytest.mark.parametrize(
    ("binaries", "words"),
    [
        (("openssh-server",), "openssh-server comes from it"),
        (("openssh-clients", "openssh-server"), "openssh-clients and openssh-server come from it"),
        (("a", "b", "c", "d", "e", "f"), "a, b, c, d and 2 more come from it"),
        (("openssh",), ""),
        ((), ""),
    ],
)
def test_reason_names_the_binaries(binaries: tuple[str, ...], words: str) -> None:
    assert TrackedSources(frozenset({"openssh"}), {"openssh": binaries}).reason("openssh") == words


def test_without_repos_the_names_are_tracked_as_they_are(tmp_path: Path) -> None:
    found = tracked_sources(["vim", "kernel"], [], tmp_path)
    assert found.sources == {"vim", "kernel"} and found.reason("vim") == ""


def test_unresolved_binaries_are_tracked_by_name_and_named_in_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH)
    with caplog.at_level(logging.WARNING):
        found = tracked_sources(["openssh-server", "ci-new", "ci-newer"], [("base", repo.as_uri())], tmp_path)
    assert found.sources == {"openssh", "ci-new", "ci-newer"}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 treefile package(s) are in none of the repos base" in warning.getMessage()
    assert warning.getMessage().endswith(": ci-new, ci-newer")


@pytest.mark.parametrize("repo_dir", ["repos", "."])
def test_treefile_repos_read_repo_files_beside_the_treefile(tmp_path: Path, repo_dir: str) -> None:
    treefile = treefile_world(tmp_path, [], repo_dir)
    [(repo, baseurl)] = treefile_repos(load_treefile(treefile))
    assert repo == "fedora" and baseurl == (tmp_path / "mirror" / "x86_64").as_uri()


def test_a_repo_without_baseurl_is_a_config_error(tmp_path: Path) -> None:
    treefile = treefile_world(tmp_path, [])
    (tmp_path / "repos" / "fedora.repo").write_text("[fedora]\nmetalink=https://mirrors.example/metalink\n")
    with pytest.raises(ConfigError, match=r"^The treefile repo fedora has no baseurl .*not followed\)\.$"):
        treefile_repos(load_treefile(treefile))


def test_a_broken_repo_file_is_a_config_error(tmp_path: Path) -> None:
    treefile = treefile_world(tmp_path, [])
    (tmp_path / "repos" / "fedora.repo").write_text("baseurl=file:///x\n")
    with pytest.raises(ConfigError, match=r"^The repo file .*fedora.repo cannot be read: "):
        load_treefile(treefile)


def decide(config: Config, store: Store, repo: str) -> Decision:
    message = make_git_receive(repo=repo, rev=REV, branch="f26")
    delivery = Delivery(position=1, topic=message["topic"], payload=encode(message), published_at=0.0)
    Trigger(config, store).handle_deliveries([delivery])
    with store.session() as session:
        return session.scalars(select(Decision).where(Decision.repo == repo)).one()


def test_a_push_of_a_source_package_is_tracked_with_the_binaries_that_made_it(
    tmp_path: Path, config: Config, sqlite_store: Store
) -> None:
    treefile = treefile_world(tmp_path / "os", ["openssh-server openssh-clients", "vi", "kubernetes-node"])
    tracked = with_treefile(config, treefile)
    openssh = decide(tracked, sqlite_store, "openssh")
    assert openssh.decision == "queued"
    assert "is tracked: openssh-clients and openssh-server come from it; queued as run" in openssh.reason
    assert "is tracked: vi comes from it;" in decide(tracked, sqlite_store, "vim").reason
    assert decide(tracked, sqlite_store, "kubernetes").decision == "queued"
    # A binary's name is not a dist-git repository: its push is not the OS's.
    assert decide(tracked, sqlite_store, "openssh-server").decision == "ignore"
    # The mapping was cached under the state directory.
    assert list((config.state_path / "cache" / "repodata").glob("*/*.names.json"))


def test_an_unreadable_treefile_repo_stops_the_trigger(
    tmp_path: Path, config: Config, sqlite_store: Store
) -> None:
    treefile = treefile_world(tmp_path / "os", ["openssh-server"])
    (tmp_path / "os" / "mirror" / "x86_64" / "repodata" / "repomd.xml").unlink()
    expected = r"^The treefile repo fedora at file://.* cannot be read: .*repomd\.xml: No such file"
    with pytest.raises(ConfigError, match=expected):
        Trigger(with_treefile(config, treefile), sqlite_store)
