"""A tiny OS whose package has tmt plans: RPMs built with rpmbuild, a dist-git repository whose
revisions hold passing, failing, erroring, warning, invalid and unsatisfiable tmt plans.

The subject's shell package carries busybox, the host's bash and flock with the libraries they link
(what tmt needs in a subject), ``/etc/passwd`` and ``/dev``: the smallest root tmt can test in.

The commands, specs, configuration and stage contexts of such a world serve the STI tiny OS of
test_test_stages.py too.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_fixtures import build_rpm

from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, TriggerConfig
from ci_pipeline.stages.base import StageContext
from fmf_trees import fmf_tree

BRANCH = "f26"
BASE_URL = "http://artifacts.example/ci"
APPLETS = ("sh", "cat", "test", "grep", "echo", "ls", "mkdir", "rm", "chmod", "touch", "sleep", "true",
           "false", "env", "id", "uname", "head", "tail", "sed", "awk", "cut", "tr", "wc", "date", "mv",
           "cp", "ln", "readlink", "dirname", "basename", "sort", "tee", "mktemp", "whoami", "printf")
LIBRARIES = ("/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libtinfo.so.6",
             "/lib64/ld-linux-x86-64.so.2")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Packager", "GIT_AUTHOR_EMAIL": "packager@example.org",
    "GIT_COMMITTER_NAME": "Packager", "GIT_COMMITTER_EMAIL": "packager@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}
PLAN = "discover:\n    how: fmf\nexecute:\n    how: tmt\n"
MIXED_TESTS = """\
/passes:
    test: test "$(tmt-app)" = "app ok"
/fails:
    test: echo app is not ok; exit 1
/errors:
    test: sleep 30
    duration: 1s
/warns:
    test: "true"
    result: warn
/informs:
    test: "true"
    result: info
/sees-no-host:
    test: test ! -e /etc/debian_version && test -z "$(ls /work 2>/dev/null)"
"""
PASSING_TESTS = """\
/passes:
    test: test "$(tmt-app)" = "app ok"
    require: [tmt-extra]
/extra-is-there:
    test: test -f /usr/share/tmt-extra/marker
"""
STI_PLAYBOOK = """\
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags: [classic]
    tests:
    - sti-app-says-ok:
        dir: .
        run: test "$(tmt-app)" = "app ok"
"""
#: Dist-git revisions: files (path: text) on top of the spec.
REVISIONS: dict[str, dict[str, str]] = {
    "mixed": {"plans/all.fmf": PLAN, "tests/main.fmf": MIXED_TESTS},
    "passing": {"plans/all.fmf": PLAN, "tests/main.fmf": PASSING_TESTS},
    "both": {"plans/all.fmf": PLAN, "tests/main.fmf": PASSING_TESTS, "tests/tests.yml": STI_PLAYBOOK},
    "invalid-plan": {"plans/all.fmf": "discover:\n    how: fmf\nexecute:\n    how: no-such-executor\n",
                     "tests/main.fmf": PASSING_TESTS},
    "missing-requirement": {"plans/all.fmf": PLAN,
                            "tests/main.fmf": "/needs:\n    test: 'true'\n    require: [no-such-package]\n"},
}


@dataclass(frozen=True)
class TmtWorld:
    """The tiny OS: its configuration and the dist-git revision of each case."""

    root: Path
    config: Config
    revs: dict[str, str]


def run(argv: list[str], cwd: Path | None = None) -> str:
    """Run a command of the fixture; its output."""
    done = subprocess.run(argv, cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def spec(name: str, release: str, install: str, files: str, extra: str = "") -> str:
    """The spec of a binary package of the fixture (``extra``: Provides, Requires...)."""
    return textwrap.dedent(f"""\
        %global debug_package %{{nil}}
        %global __os_install_post %{{nil}}
        Name: {name}
        Version: 1.0
        Release: {release}
        Summary: {name}
        License: MIT
        AutoReqProv: no
        {extra}
        %description
        {name}
        %install
        """) + install + f"\n%files\n{files}\n"


def _shell_install() -> str:
    links = " ".join(APPLETS)
    libraries = "\n".join(f"install -D -m 0755 {lib} %{{buildroot}}{lib}" for lib in LIBRARIES)
    return (
        "install -D -m 0755 /bin/busybox %{buildroot}/usr/bin/busybox\n"
        f"for a in {links}; do ln -s busybox %{{buildroot}}/usr/bin/$a; done\n"
        "install -m 0755 /bin/bash /usr/bin/flock %{buildroot}/usr/bin/\n"
        f"{libraries}\n"
        "ln -s usr/bin %{buildroot}/bin\n"
        "install -d %{buildroot}/tmp %{buildroot}/var/tmp %{buildroot}/root %{buildroot}/etc\n"
        "echo 'root:x:0:0:root:/root:/bin/sh' > %{buildroot}/etc/passwd\n"
        "echo 'root:x:0:' > %{buildroot}/etc/group\n"
    )


def _distgit(root: Path) -> dict[str, str]:
    bare, work = root / "git" / "rpms" / "tmt-app.git", root / "work"
    run(["git", "init", "--quiet", "--bare", "--initial-branch=master", str(bare)])
    run(["git", "init", "--quiet", "--initial-branch=master", str(work)])
    (work / "tmt-app.spec").write_text("Name: tmt-app\n")
    revs = {}
    for name, files in REVISIONS.items():
        for old in ("plans", "tests"):
            run(["rm", "-rf", str(work / old)])
        fmf_tree(work, files)
        run(["git", "add", "-A"], work)
        run(["git", "commit", "--quiet", "-m", name], work)
        revs[name] = run(["git", "rev-parse", "HEAD"], work)
    run(["git", "push", "--quiet", str(bare), "HEAD:master", f"HEAD:{BRANCH}"], work)
    return revs


def make_world(root: Path) -> TmtWorld:
    """Build the tiny OS under ``root``."""
    base_repo, build = root / "base", root / "rpmbuild"
    shell_files = "\n".join(["/usr/bin/*", "/bin", "/lib64", "/lib", "%dir /tmp", "%dir /var/tmp",
                             "%dir /root", "/etc/passwd", "/etc/group"])
    shell = spec("tmt-shell", "1.fc26", _shell_install(), shell_files, "Provides: /bin/sh /bin/bash")
    build_rpm(build / "shell", shell, base_repo)
    marker = "install -D -m 0644 /dev/null %{buildroot}/usr/share/tmt-extra/marker\n"
    extra = spec("tmt-extra", "1.fc26", marker, "/usr/share/tmt-extra")
    build_rpm(build / "extra", extra, base_repo)
    app_repo = root / "artifacts" / BRANCH / "repo" / "tmt-app_repo"
    app_install = ("install -d %{buildroot}/usr/bin\n"
                   "printf '#!/bin/sh\\necho app ok\\n' > %{buildroot}/usr/bin/tmt-app\n"
                   "chmod 0755 %{buildroot}/usr/bin/tmt-app\n")
    build_rpm(build / "app", spec("tmt-app", "1.2.abcdef0.fc26", app_install, "/usr/bin/tmt-app",
                                  "Requires: tmt-shell"), app_repo)
    return TmtWorld(root, world_config(root, base_repo, "tmt-base"), _distgit(root))


def world_config(root: Path, base_repo: Path, repo_id: str, **settings: Any) -> Config:
    """The configuration of a tiny OS under ``root``: dist-git in ``git/``, artifacts in ``artifacts/``,
    a treefile whose one repository (``repo_id``) is ``base_repo``, and any other ``settings``."""
    treefile_dir = root / "treefile"
    treefile_dir.mkdir()
    base = f"[{repo_id}]\nname=base\nbaseurl={base_repo.as_uri()}\ngpgcheck=0\n"
    (treefile_dir / "base.repo").write_text(base)
    treefile = f'{{"ref": "fedora/f26/x86_64/atomic-host", "repos": ["{repo_id}"]}}'
    (treefile_dir / "treefile.json").write_text(treefile)
    return Config(state_dir=str(root / "state")).model_copy(
        update={
            "distgit": DistGitConfig(url=f"file://{root}/git/{{namespace}}/{{repo}}.git"),
            "artifacts": ArtifactsConfig(root=str(root / "artifacts"), base_url=BASE_URL),
            "trigger": TriggerConfig(treefile=str(treefile_dir / "treefile.json")),
            **settings,
        }
    )


def functional_context(world: TmtWorld, tmp_path: Path, case: str) -> StageContext:
    """The functional stage's context for the dist-git revision ``case`` of the package."""
    fields = {
        "repo": "tmt-app", "branch": BRANCH, "namespace": "rpms", "rev": world.revs[case],
        "nvr": "tmt-app-1.0-1.2.abcdef0.fc26", "package_url": f"{BASE_URL}/{BRANCH}/repo/tmt-app_repo/",
    }
    return tmp_stage_context(world.config, tmp_path, "functional", fields)


def tmp_stage_context(config: Config, tmp_path: Path, stage: str, fields: Mapping[str, str]) -> StageContext:
    """The context of an attempt of ``stage`` of run 1: a fresh ``work/``, ``artifacts/`` and
    ``stage.log`` under ``tmp_path``."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    return StageContext(
        run_id=1,
        stage=stage,
        attempt=1,
        fields=fields,
        workdir=workdir,
        artifacts_dir=tmp_path / "artifacts",
        artifacts_url=f"{BASE_URL}/runs/1/{stage}",
        log_path=tmp_path / "stage.log",
        config=config,
        timeout=300.0,
    )
