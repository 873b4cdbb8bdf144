"""Specs that use rpmautospec, built by the real build stage from real dist-git history.

The package is shaped like a Fedora package converted to rpmautospec: its first commit has a
classic ``Release:`` and ``%changelog``, the conversion moved that changelog into the ``changelog``
file, and the version changes in the middle of the history.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_pipeline.branches import branch_release
from ci_pipeline.errors import StageFailure
from ci_pipeline.example import distgit
from ci_pipeline.example.sources import make_tarball, upload
from ci_pipeline.stages import build
from ci_pipeline.stages.rpm.autospec import expand_autospec, uses_rpmautospec
from ci_pipeline.stages.rpm.specfile import plan_release, release_mark
from ci_pipeline.stages.tools import Deadline
from stages.conftest import PackageWorld, build_config, build_context, create_package_world, fields_of

pytestmark = pytest.mark.integration

FEDORA_SPEC = """\
Name:           hello
Version:        {version}
Release:        {release}
Summary:        Prints a friendly greeting

License:        MIT
URL:            https://example.org/hello
Source0:        %{{url}}/releases/%{{name}}-%{{version}}.tar.gz

BuildArch:      noarch
BuildRequires:  coreutils

%description
hello prints a friendly greeting, and its test suite checks that it does.

%prep
%autosetup

%build
# A shell script: nothing to compile.

%install
install -D -m 0755 greet %{{buildroot}}%{{_bindir}}/hello

%check
test "$(sh ./greet)" = "hello"

%files
%license LICENSE
%{{_bindir}}/hello

%changelog
{changelog}
"""

OLD_CHANGELOG = """\
* Mon Jan 01 2018 John Doe <jdoe@example.org> - 1.0-1
- Initial package
"""

MAINTAINER = f"{distgit.AUTHOR_NAME} <{distgit.AUTHOR_EMAIL}>"


@dataclass(frozen=True)
class History:
    """A dist-git repository made by the test, and the rev to build."""

    world: PackageWorld
    rev: str
    commit_count: int


def _world(root: Path, rev: str, commit_count: int) -> PackageWorld:
    return PackageWorld(
        root=root,
        repo="hello",
        rev=rev,
        commit_count=commit_count,
        distgit_url=f"file://{root}/git/{{namespace}}/{{repo}}.git",
        lookaside_url=f"file://{root}/lookaside/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}",
        source_name="",
        source_sha512="",
    )


def _write_version(work: Path, root: Path, version: str, release: str, changelog: str) -> None:
    tarball = make_tarball(
        root / "tarballs" / f"hello-{version}.tar.gz",
        f"hello-{version}",
        {"greet": b"#!/bin/sh\necho hello\n", "LICENSE": b"MIT License\n"},
    )
    entry = upload(tarball, root / "lookaside", "rpms", "hello")
    (work / "sources").write_text(entry.line() + "\n")
    (work / ".gitignore").write_text("/hello-*.tar.gz\n")
    (work / "hello.spec").write_text(
        FEDORA_SPEC.format(version=version, release=release, changelog=changelog)
    )


def converted_package(root: Path) -> History:
    """hello's dist-git: imported at 1.0, converted to rpmautospec, fixed, updated to 1.1, rebuilt."""
    work = distgit.init_worktree(root / "work" / "hello")
    _write_version(work, root, "1.0", "1%{?dist}", OLD_CHANGELOG)
    distgit.commit_all(work, "Initial import (#1500000)", when="2018-01-01T10:00:00Z")
    _write_version(work, root, "1.0", "%autorelease", "%autochangelog")
    (work / "changelog").write_text(OLD_CHANGELOG)
    distgit.commit_all(work, "Convert to rpmautospec", when="2018-02-01T10:00:00Z")
    (work / "README.packit").write_text("Packaging notes.\n")
    distgit.commit_all(work, "Describe the packaging", when="2018-03-01T10:00:00Z")
    _write_version(work, root, "1.1", "%autorelease", "%autochangelog")
    distgit.commit_all(
        work, "Update to 1.1\n\nUpstream's notes: https://example.org/hello/1.1", when="2018-04-01T10:00:00Z"
    )
    (work / "README.packit").write_text("Packaging notes, revised.\n")
    rev = distgit.commit_all(work, "Rebuild for the new toolchain", when="2018-05-01T10:00:00Z")
    distgit.push(work, str(distgit.init_bare(root / "git" / "rpms" / "hello.git")), ["HEAD:rawhide"])
    return History(_world(root, rev, 5), rev, 5)


def _rpm_query(path: Path, *args: str) -> str:
    done = subprocess.run(["rpm", "-qp", *args, str(path)], capture_output=True, text=True, check=True)
    return done.stdout


def test_autorelease_spec_builds_with_rpmautospec_release_marked_and_its_changelog(tmp_path: Path) -> None:
    history = converted_package(tmp_path / "world")
    ctx = build_context(tmp_path, build_config(tmp_path, history.world), fields_of(history.world, "rawhide"))
    sha7 = history.rev[:7]
    result = build.run(ctx)
    # Two commits since the version became 1.1: release 2, then the CI mark, then rawhide's dist tag.
    assert result.outputs["original_spec_nvr"] == "hello-1.1-2.fc27"
    assert result.outputs["nvr"] == f"hello-1.1-2.5.{sha7}.fc27"
    assert result.outputs["srpm"] == f"hello-1.1-2.5.{sha7}.fc27.src.rpm"
    repo = tmp_path / "artifacts" / "rawhide" / "repo" / "hello_repo"
    built = repo / f"hello-1.1-2.5.{sha7}.fc27.noarch.rpm"
    assert _rpm_query(built, "--qf", "%{name} %{version} %{release}") == f"hello 1.1 2.5.{sha7}.fc27"
    assert _rpm_query(built, "--changelog") == (
        f"* Tue May 01 2018 {MAINTAINER} - 1.1-2\n- Rebuild for the new toolchain\n\n"
        f"* Sun Apr 01 2018 {MAINTAINER} - 1.1-1\n- Update to 1.1\n\n"
        f"* Thu Mar 01 2018 {MAINTAINER} - 1.0-3\n- Describe the packaging\n\n"
        "* Mon Jan 01 2018 John Doe <jdoe@example.org> - 1.0-1\n- Initial package\n\n"
    )
    assert [(t.name, t.outcome) for t in result.tests] == [("hello %check", "PASSED")]


def test_an_earlier_commit_builds_with_the_release_of_its_own_history(tmp_path: Path) -> None:
    history = converted_package(tmp_path / "world")
    third = distgit.git("rev-parse", "HEAD~2", cwd=tmp_path / "world" / "work" / "hello")
    fields = {**fields_of(history.world, "f26"), "rev": third}
    result = build.run(build_context(tmp_path, build_config(tmp_path, history.world), fields))
    assert result.outputs["original_spec_nvr"] == "hello-1.0-3.fc26"
    assert result.outputs["nvr"] == f"hello-1.0-3.3.{third[:7]}.fc26"


def test_an_nvr_holding_an_unexpanded_macro_fails_the_build_naming_it(tmp_path: Path) -> None:
    world = create_package_world(tmp_path / "world", release="1%{?dist}%{snapinfo}")
    ctx = build_context(tmp_path, build_config(tmp_path, world), fields_of(world))
    with pytest.raises(StageFailure, match=r"holds the unexpanded macro %\{snapinfo\}"):
        build.run(ctx)
    assert not (tmp_path / "artifacts" / "f26" / "repo").exists()


# --- every %autorelease option, on a history of three commits at one version ----------------------

MINIMAL_SPEC = """\
Name:           tiny
Version:        2.0
Release:        {release}
Summary:        s
License:        MIT

%description
d

%files

%changelog
%autochangelog
"""


def three_commits(root: Path, release: str) -> tuple[Path, str]:
    """A work tree of three commits at version 2.0 whose spec has ``Release: <release>``."""
    work = distgit.init_worktree(root / "tiny")
    (work / "tiny.spec").write_text(MINIMAL_SPEC.format(release=release))
    distgit.commit_all(work, "Initial import", when="2024-01-01T00:00:00Z")
    for number in (1, 2):
        (work / "README").write_text(f"{number}\n")
        distgit.commit_all(work, f"Fix {number}", when=f"2024-01-0{number + 1}T00:00:00Z")
    return work / "tiny.spec", distgit.head(work)


@pytest.mark.parametrize(
    ("release", "expanded"),
    [
        ("%autorelease", "3.fc26"),
        ("%{autorelease}", "3.fc26"),
        ("%autorelease -b 2", "4.fc26"),
        ("%autorelease -e pre1", "3.pre1.fc26"),
        ("%autorelease -s 20240102git1a2b3c4", "3.20240102git1a2b3c4.fc26"),
        ("%autorelease -p", "0.3.fc26"),
        ("%autorelease -p -e rc1", "0.3.rc1.fc26"),
        ("%autorelease -b 10 -p -e beta2 -s 20240102gitabc", "0.12.beta2.20240102gitabc.fc26"),
        ("%{autorelease -e pre1}", "3.pre1.fc26"),
    ],
)
def test_each_autorelease_option_and_the_mark_before_the_dist_tag(
    tmp_path: Path, release: str, expanded: str
) -> None:
    spec, rev = three_commits(tmp_path, release)
    processed = expand_autospec(spec, tmp_path / "tiny.autospec.spec")
    assert processed == tmp_path / "tiny.autospec.spec"
    mark = release_mark(3, rev)
    plan = plan_release(
        processed, branch_release("f26", 27), mark, tmp_path / "m.spec", tmp_path / "log", Deadline(60)
    )
    assert plan.original_nvr == f"tiny-2.0-{expanded}"
    assert plan.nvr == f"tiny-2.0-{expanded.removesuffix('.fc26')}{mark}.fc26"


def test_autorelease_without_dist_gets_the_mark_on_its_release_line(tmp_path: Path) -> None:
    spec, rev = three_commits(tmp_path, "%autorelease -n -b 2")
    processed = expand_autospec(spec, tmp_path / "tiny.autospec.spec")
    mark = release_mark(3, rev)
    plan = plan_release(
        processed, branch_release("f26", 27), mark, tmp_path / "m.spec", tmp_path / "log", Deadline(60)
    )
    assert plan.original_nvr == "tiny-2.0-4"
    assert plan.nvr == f"tiny-2.0-4{mark}"
    assert plan.spec == tmp_path / "m.spec"


def test_a_spec_without_rpmautospec_is_built_as_it_is(tmp_path: Path) -> None:
    spec, _ = three_commits(tmp_path, "7%{?dist}")
    spec.write_text(spec.read_text().replace("%autochangelog", ""))
    assert not uses_rpmautospec(spec)
    assert expand_autospec(spec, tmp_path / "unused.spec") == spec
    assert not (tmp_path / "unused.spec").exists()


def test_a_spec_rpmautospec_cannot_parse_is_a_stage_failure(tmp_path: Path) -> None:
    spec, _ = three_commits(tmp_path, "%autorelease")
    spec.write_text(spec.read_text().replace("%description", "%if 1\n%description"))
    distgit.commit_all(spec.parent, "Break the spec")
    with pytest.raises(StageFailure, match=r"rpmautospec cannot expand tiny\.spec"):
        expand_autospec(spec, tmp_path / "tiny.autospec.spec")
