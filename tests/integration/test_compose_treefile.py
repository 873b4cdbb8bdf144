"""The compose honours a YAML treefile's content keys, with the real dnf, rpm, unshare and ostree."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_fixtures import build_rpm, create_fixture_world, hello_spec, publish_ci_build, stage_context

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.stages import compose
from ci_pipeline.stages.base import StageContext, StageResult

pytestmark = pytest.mark.integration

#: Written by the postprocess script at this absolute path: inside the tree, never on the host.
ESCAPE = f"/tmp/ci-pipeline-postprocess-{uuid.uuid4().hex}"


def _spec(name: str, preamble: str, install: str, files: str) -> str:
    return (
        textwrap.dedent(
            f"""\
        %global debug_package %{{nil}}
        %global __os_install_post %{{nil}}
        %define _build_id_links none
        Name: {name}
        Version: 1.0
        Release: 1.fc26
        Summary: fixture {name}
        License: MIT
        AutoReqProv: no
        BuildArch: noarch
        {preamble}
        %description
        fixture {name}
        %install
        """
        )
        + f"{install}\n%files\n{files}\n"
    )


def _extras_repo(repo: Path, build: Path) -> None:
    service = (
        "install -d %{buildroot}/usr/lib/systemd/system %{buildroot}/usr/share/fx-service "
        "%{buildroot}/usr/share/doc/fx-service\n"
        "printf '[Unit]\\nDescription=hello\\n[Service]\\nExecStart=/usr/bin/busybox true\\n'"
        " > %{buildroot}/usr/lib/systemd/system/fx-hello.service\n"
        "for f in keep drop.txt debug.log; do echo $f > %{buildroot}/usr/share/fx-service/$f; done\n"
        "echo docs > %{buildroot}/usr/share/doc/fx-service/README\n"
    )
    files = (
        "/usr/lib/systemd/system/fx-hello.service\n/usr/share/fx-service\n"
        "%doc /usr/share/doc/fx-service/README"
    )
    build_rpm(build, _spec("fx-service", "Recommends: fx-unwanted", service, files), repo)
    unwanted = "install -d %{buildroot}/usr/share/fx-unwanted\n"
    build_rpm(build, _spec("fx-unwanted", "", unwanted, "/usr/share/fx-unwanted"), repo)
    shell = "install -d %{buildroot}/usr/bin\nln -s busybox %{buildroot}/usr/bin/sh\n"
    build_rpm(build, _spec("fx-shell", "", shell, "/usr/bin/sh"), repo)


HOST_YAML = """\
# The fixture OS as a Fedora treefile: YAML, an include, ${basearch}
include: common.yaml
ref: fedora/f26/${basearch}/atomic-host
repos:
  - fixture-base
  - fixture-extras
packages:
  - ci-hello
packages-x86_64:
  - fx-service
packages-aarch64:
  - fx-not-for-this-arch
exclude-packages:
  - fx-unwanted
units:
  - fx-hello.service
default-target: multi-user.target
remove-files:
  - usr/share/fx-service/drop.txt
remove-from-packages:
  - [fx-service, "/usr/share/fx-service/.*\\\\.log$"]
add-files:
  - [motd, /etc/motd]
documentation: false
selinux: true
frobnicate: 1
automatic_version_prefix: "26"
postprocess-script: post.sh
"""

COMMON_YAML = """\
packages:
  - fx-filesystem fx-busybox fx-kernel
  - fx-shell
postprocess:
  - |
    #!/bin/sh
    set -e
    mkdir -p /usr/share/ci-postprocess
    echo $$ > /usr/share/ci-postprocess/pid
    test -e /usr/lib/systemd/system/fx-hello.service
"""

POST_SH = f"""#!/bin/sh
set -e
echo inside > {ESCAPE}
busybox cat {ESCAPE} > /usr/share/ci-postprocess/marker
"""


@dataclass
class Composed:
    ctx: StageContext
    result: StageResult
    checkout: Path
    root: Path


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Composed:
    root = tmp_path_factory.mktemp("compose-treefile")
    world = create_fixture_world(root / "world")
    extras = root / "extras-repo"
    _extras_repo(extras, root / "build")
    treefile_dir = root / "treefile"
    treefile_dir.mkdir()
    (treefile_dir / "fixture-base.repo").write_text((world.treefile.parent / "fixture-base.repo").read_text())
    (treefile_dir / "fixture-extras.repo").write_text(
        f"[fixture-extras]\nname=extras for $basearch\nbaseurl={extras.as_uri()}\nenabled=1\ngpgcheck=1\n"
    )
    (treefile_dir / "host.yaml").write_text(HOST_YAML)
    (treefile_dir / "common.yaml").write_text(COMMON_YAML)
    (treefile_dir / "post.sh").write_text(POST_SH)
    (treefile_dir / "motd").write_text("Welcome to the fixture OS\n")
    config = Config(
        artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://artifacts.test/atomic"),
        trigger=TriggerConfig(treefile=str(treefile_dir / "host.yaml")),
    )
    fields = publish_ci_build(config, 301, "f26", hello_spec("1.0", "1.1.ccccccc.fc26"), root / "b1")
    ctx = stage_context(root, 1, "compose", fields, config)
    result = compose.run(ctx)
    checkout = root / "checkout"
    repo = Path(config.artifacts.root) / "f26" / "ostree"
    subprocess.run(
        ["ostree", f"--repo={repo}", "checkout", "--user-mode", result.outputs["compose_rev"], str(checkout)],
        check=True,
        capture_output=True,
    )
    return Composed(ctx=ctx, result=result, checkout=checkout, root=root)


def test_the_ref_has_the_basearch_substituted(composed: Composed) -> None:
    assert composed.result.outputs["ref"] == "fedora/f26/x86_64/atomic-host"


def test_units_are_enabled_and_the_default_target_set(composed: Composed) -> None:
    systemd = composed.checkout / "usr/etc/systemd/system"
    wants = systemd / "multi-user.target.wants" / "fx-hello.service"
    assert wants.is_symlink() and str(wants.readlink()) == "/usr/lib/systemd/system/fx-hello.service"
    assert str((systemd / "default.target").readlink()) == "/usr/lib/systemd/system/multi-user.target"


def test_files_are_removed_added_and_docs_left_out(composed: Composed) -> None:
    share = composed.checkout / "usr/share"
    assert (share / "fx-service/keep").is_file()
    assert not (share / "fx-service/drop.txt").exists()  # remove-files
    assert not (share / "fx-service/debug.log").exists()  # remove-from-packages
    assert not (share / "doc/fx-service/README").exists()  # documentation: false
    assert (composed.checkout / "usr/etc/motd").read_text() == "Welcome to the fixture OS\n"


def test_postprocess_ran_inside_the_tree_and_never_on_the_host(composed: Composed) -> None:
    share = composed.checkout / "usr/share/ci-postprocess"
    assert (share / "marker").read_text() == "inside\n"
    assert int((share / "pid").read_text()) < 10  # a PID namespace of its own
    assert not Path(ESCAPE).exists()
    assert list((composed.checkout / "tmp").iterdir()) == []


def test_excluded_packages_stay_out_even_when_recommended(composed: Composed) -> None:
    names = (composed.ctx.artifacts_dir / "packages.txt").read_text()
    assert "fx-service-1.0-1.fc26.noarch" in names
    assert "fx-unwanted" not in names
    assert not (composed.checkout / "usr/share/fx-unwanted").exists()


def test_without_the_exclusion_the_recommended_package_comes_in(composed: Composed) -> None:
    host = composed.root / "treefile" / "host.yaml"
    unexcluded = host.with_name("unexcluded.yaml")
    unexcluded.write_text(host.read_text().replace("exclude-packages:\n  - fx-unwanted\n", ""))
    config = Config(
        artifacts=ArtifactsConfig(
            root=str(composed.root / "artifacts-2"), base_url="http://artifacts.test/atomic"
        ),
        trigger=TriggerConfig(treefile=str(unexcluded)),
    )
    ctx = stage_context(composed.root, 2, "compose", {"branch": "f26"}, config)
    compose.run(ctx)
    assert "fx-unwanted-1.0-1.fc26.noarch" in (ctx.artifacts_dir / "packages.txt").read_text()


def test_keys_not_applied_are_named_once_in_log_and_summary(composed: Composed) -> None:
    assert composed.result.summary.endswith("Treefile keys not applied: frobnicate, selinux.")
    log = composed.ctx.log_path.read_text()
    assert log.count("key 'frobnicate' not applied") == 1
    assert log.count("key 'selinux' not applied") == 1
    assert log.count("key 'automatic_version_prefix' ignored") == 1
    assert log.count("repo fixture-extras sets gpgcheck, not applied") == 1
