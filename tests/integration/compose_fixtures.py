"""A tiny bootable OS built with rpmbuild for the compose and image tests.

Base repo: ``fx-filesystem`` (layout), ``fx-busybox`` (host busybox-static and an init),
``fx-kernel`` (the host's
``/boot/vmlinuz-*`` as ``/boot/vmlinuz-<kver>``, so the compose moves it and adds an initramfs).
CI builds go where the build stage leaves them: a repository of the build's own in its run's
artifacts (``build_repo_url``) and the branch's ``<name>_repo/``, which the next build replaces.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_pipeline.config import (
    ArtifactsConfig,
    Config,
    DistGitConfig,
    LookasideConfig,
    StoreConfig,
    TriggerConfig,
)
from ci_pipeline.example.world import World
from ci_pipeline.stages.base import StageContext
from ci_pipeline.store.db import open_store
from engine.helpers import add_run

BASE_PACKAGES = ("fx-filesystem", "fx-busybox", "fx-kernel", "ci-hello")
REF = "fedora/f26/x86_64/atomic-host"

#: The fixture OS is composed and written to disk, never booted (the example OS boots in
#: test_example_machines.py), so its init only has to exist.
INIT = """#!/usr/bin/busybox sh
exec /usr/bin/busybox sleep 100000
"""


@dataclass(frozen=True)
class FixtureWorld:
    """Paths of the fixture OS."""

    root: Path
    treefile: Path
    base_repo: Path


def host_kernel() -> Path:
    """The newest kernel image in the host's /boot."""
    return sorted(Path("/boot").glob("vmlinuz-*"))[-1]


def _spec(name: str, version: str, release: str, install: str, files: str, arch: str = "noarch") -> str:
    build_arch = "BuildArch: noarch" if arch == "noarch" else ""
    return (
        textwrap.dedent(
            f"""\
        %global debug_package %{{nil}}
        %global __os_install_post %{{nil}}
        %define _binary_payload w1.gzdio
        %define _build_id_links none
        Name: {name}
        Version: {version}
        Release: {release}
        Summary: fixture {name}
        License: MIT
        AutoReqProv: no
        {build_arch}
        %description
        fixture {name}
        %install
        mkdir -p %{{buildroot}}/usr/lib/ci-pipeline/nvr.d
        echo %{{name}}-%{{version}}-%{{release}} > %{{buildroot}}/usr/lib/ci-pipeline/nvr.d/%{{name}}
        """
        )
        + f"{install}\n%files\n/usr/lib/ci-pipeline/nvr.d/%{{name}}\n{files}\n"
    )


def build_rpm(workdir: Path, spec_text: str, repo_dir: Path) -> None:
    """Build one binary RPM from ``spec_text`` into ``repo_dir`` and refresh its metadata."""
    top = workdir / "rpmbuild"
    top.mkdir(parents=True, exist_ok=True)
    spec = top / "fixture.spec"
    spec.write_text(spec_text, encoding="utf-8")
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", f"--define=_topdir {top}", f"--define=_rpmdir {repo_dir}", str(spec)],
        check=True,
        capture_output=True,
    )
    subprocess.run(["createrepo_c", "-q", str(repo_dir)], check=True, capture_output=True)


def busybox_spec(release: str, init: str = INIT) -> str:
    """fx-busybox with the given init script."""
    install = (
        "install -D -m 0755 /bin/busybox %{buildroot}/usr/bin/busybox\n"
        "install -d %{buildroot}/usr/sbin %{buildroot}/etc\n"
        f"cat > %{{buildroot}}/usr/sbin/init <<'EOF'\n{init}EOF\n"
        "chmod 0755 %{buildroot}/usr/sbin/init\n"
        "echo fixture > %{buildroot}/etc/fixture-release\n"
    )
    return _spec(
        "fx-busybox",
        "1.0",
        release,
        install,
        "/usr/bin/busybox\n/usr/sbin/init\n/etc/fixture-release",
        arch="x86_64",
    )


def hello_spec(version: str, release: str) -> str:
    """ci-hello: a noarch package with one file."""
    install = (
        "install -d %{buildroot}/usr/share/ci-hello %{buildroot}/var/lib/ci-hello\n"
        "echo %{version} > %{buildroot}/usr/share/ci-hello/version\n"
    )
    return _spec("ci-hello", version, release, install, "/usr/share/ci-hello\n%dir /var/lib/ci-hello")


def create_fixture_world(root: Path) -> FixtureWorld:
    """Build the base repo and the treefile of the fixture OS under ``root``."""
    base_repo = root / "base-repo"
    base_repo.mkdir(parents=True)
    build = root / "build"
    kernel = host_kernel()
    kver = kernel.name.removeprefix("vmlinuz-")
    filesystem_install = (
        "install -d %{buildroot}/usr/bin %{buildroot}/usr/sbin %{buildroot}/usr/lib64 %{buildroot}/etc"
        " %{buildroot}/var/log\n"
        "for d in bin sbin lib lib64; do ln -s usr/$d %{buildroot}/$d; done\n"
        "echo 'ID=fixture' > %{buildroot}/usr/lib/os-release\n"
    )
    build_rpm(
        build,
        _spec(
            "fx-filesystem",
            "26",
            "1.fc26",
            filesystem_install,
            "/bin\n/sbin\n/lib\n/lib64\n%dir /usr/bin\n%dir /usr/sbin\n%dir /usr/lib64\n%dir /etc\n"
            "%dir /var/log\n/usr/lib/os-release",
        ),
        base_repo,
    )
    build_rpm(build, busybox_spec("1.fc26"), base_repo)
    kernel_install = f"install -D -m 0644 {kernel} %{{buildroot}}/boot/vmlinuz-{kver}\n"
    build_rpm(
        build,
        _spec("fx-kernel", "1.0", "1.fc26", kernel_install, f"/boot/vmlinuz-{kver}", arch="x86_64"),
        base_repo,
    )
    build_rpm(build, hello_spec("1.0", "1.fc26"), base_repo)
    shutil.rmtree(build)
    treefile_dir = root / "treefile"
    treefile_dir.mkdir()
    (treefile_dir / "fixture-base.repo").write_text(
        f"[fixture-base]\nname=fixture base\nbaseurl={base_repo.as_uri()}\ngpgcheck=0\n", encoding="utf-8"
    )
    treefile = treefile_dir / "treefile.json"
    treefile.write_text(
        '{{"ref": "{}", "repos": ["fixture-base"], "packages": ["{}"]}}'.format(REF, " ".join(BASE_PACKAGES)),
        encoding="utf-8",
    )
    return FixtureWorld(root=root, treefile=treefile, base_repo=base_repo)


def publish_ci_build(
    config: Config, run_id: int, branch: str, spec_text: str, workdir: Path
) -> dict[str, str]:
    """Build a CI package as the build stage does for run ``run_id``; return the build's outputs."""
    name = next(line.split(":", 1)[1].strip() for line in spec_text.splitlines() if line.startswith("Name:"))
    root = Path(config.artifacts.root)
    own_repo = root / "runs" / str(run_id) / "build" / "repo"
    build_rpm(workdir, spec_text, own_repo)
    shutil.rmtree(root / branch / "repo" / f"{name}_repo", ignore_errors=True)
    shutil.copytree(own_repo, root / branch / "repo" / f"{name}_repo")
    nvr = next(rpm.name for rpm in own_repo.rglob("*.rpm")).removesuffix(".rpm").rsplit(".", 1)[0]
    return {
        "repo": name,
        "branch": branch,
        "nvr": nvr,
        "package_url": f"{config.artifacts_base_url}/{branch}/repo/{name}_repo/",
        "build_repo_url": f"{config.artifacts_base_url}/runs/{run_id}/build/repo/",
    }


def machine_store(path: Path, runs: int) -> StoreConfig:
    """A migrated SQLite store at ``path`` holding runs 1 to ``runs``, where machine stages lease."""
    url = f"sqlite:///{path}"
    store = open_store(url)
    try:
        for _ in range(runs):
            add_run(store)
    finally:
        store.close()
    return StoreConfig(url=url)


def example_config(root: Path, world: World, **settings: Any) -> Config:
    """The configuration that builds the example ``world``: its treefile, dist-git and lookaside cache,
    artifacts under ``root/artifacts``, and any other ``settings`` (``store=...``)."""
    return Config(
        artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://artifacts.test"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
        distgit=DistGitConfig(url=world.distgit_url),
        lookaside=LookasideConfig(url=world.lookaside_url),
        **settings,
    )


def stage_context(
    root: Path, number: int, stage: str, fields: Mapping[str, str], config: Config, **kwargs: Any
) -> StageContext:
    """A stage context of its own under ``root/runs/<number>-<stage>``, as the engine would make."""
    work = root / "runs" / f"{number}-{stage}"
    (work / "work").mkdir(parents=True)
    return StageContext(
        run_id=number,
        stage=stage,
        attempt=1,
        fields=dict(fields),
        workdir=work / "work",
        artifacts_dir=work / "artifacts",
        artifacts_url=f"http://example.test/runs/{number}",
        log_path=work / "stage.log",
        config=config,
        **kwargs,
    )
