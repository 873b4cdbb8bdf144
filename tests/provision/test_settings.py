"""[provision]: each stage's provisioner and topology, and one clear error for a wrong table."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import Config, load_config
from ci_pipeline.errors import ConfigError
from ci_pipeline.provision.base import NetworkKind, Topology
from ci_pipeline.provision.registry import open_provisioner, provisioner_class
from ci_pipeline.provision.settings import check_provisioners, provisioner_name, topology_for


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "ci.toml"
    path.write_text(f'state_dir = "{tmp_path}/state"\n{text}')
    return load_config(path, environ={})


def test_the_defaults_are_qemu_with_one_machine_and_three_for_e2e(tmp_path: Path) -> None:
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": str(tmp_path)})
    assert {provisioner_name(config, stage) for stage in ("smoke", "integration", "e2e")} == {"qemu"}
    assert topology_for(config, "smoke") == Topology(
        count=1, memory=1024, cpus=1, network=NetworkKind.PRIVATE
    )
    assert topology_for(config, "e2e").count == 3
    assert topology_for(config, "e2e", {"e2e_machines": "5"}).count == 5
    assert topology_for(config, "smoke", {"e2e_machines": "5"}).count == 1


def test_a_stage_table_naming_another_key_keeps_its_stage_default_count(tmp_path: Path) -> None:
    config = _load(
        tmp_path, '[provision.e2e]\nprovisioner = "memory"\nmemory = 2048\n[provision.smoke]\ncpus = 2\n'
    )
    assert topology_for(config, "e2e") == Topology(count=3, memory=2048, cpus=1)
    assert topology_for(config, "smoke").cpus == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[provision.smoke]\nprovisioner = "cloud"\n', "provision.smoke.provisioner"),
        ("[provision.e2e]\ncount = 0\n", "provision.e2e.count"),
        ('[provision.e2e]\nnetwork = "host"\n', "provision.e2e.network"),
        ("[provision.smoke]\nflavor = 1\n", "Unknown configuration key 'provision.smoke.flavor'"),
        ('[provision.smoke]\nprovisioner = "ssh"\n', "asks for 1 machines of the ssh provisioner"),
        ('[provision.ssh]\nhosts = [{name = "a", address = "10.0.0.1"}]\n', "has no key"),
        (
            '[provision.ssh]\nkey = "k"\n'
            'hosts = [{name = "a", address = "10.0.0.1"}, {name = "a", address = "h"}]\n',
            "listed more than once",
        ),
        (
            '[provision.ssh]\nkey = "k"\nhosts = [{name = "a", address = "$(reboot)"}]\n',
            "provision.ssh.hosts.0.address",
        ),
        (
            '[provision.ssh]\nkey = "k"\nhosts = [{name = "-o", address = "h"}]\n',
            "provision.ssh.hosts.0.name",
        ),
    ],
)
def test_a_wrong_provision_table_is_one_config_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=r"^(Unknown )?[Cc]onfiguration key") as caught:
        _load(tmp_path, text)
    assert words in str(caught.value)


def test_relative_key_and_state_paths_are_resolved_once(tmp_path: Path) -> None:
    config = _load(
        tmp_path, '[provision.ssh]\nkey = "keys/lab"\nhosts = [{name = "a", address = "h", key = "k2"}]\n'
    )
    ssh = config.provision.ssh
    assert Path(ssh.key).is_absolute() and Path(ssh.hosts[0].key).is_absolute()
    assert ssh.known_hosts == f"{tmp_path}/state/provision/known_hosts"
    assert config.provision.linchpin.workspace == f"{tmp_path}/state/linchpin"


def test_every_member_is_registered_by_its_name() -> None:
    for name in ("qemu", "ssh", "linchpin", "memory"):
        assert provisioner_class(name).name == name
    with pytest.raises(ConfigError, match="unknown; use one of linchpin, memory, qemu, ssh"):
        provisioner_class("cloud")


def test_a_provisioner_that_cannot_work_here_is_one_error_at_start(tmp_path: Path) -> None:
    every = ("smoke", "integration", "e2e")
    stages = "".join(f'[provision.{stage}]\nprovisioner = "linchpin"\n' for stage in every)
    config = _load(tmp_path, f'{stages}[provision.linchpin]\ncommand = "/nonexistent/linchpin"\n')
    with pytest.raises(
        ConfigError, match="needs linch-pin, and /nonexistent/linchpin is not an installed program"
    ):
        check_provisioners(config)
    missing_key = _load(
        tmp_path,
        '[provision.smoke]\nprovisioner = "ssh"\n[provision.ssh]\nkey = "/nonexistent/key"\n'
        'hosts = [{name = "lab1", address = "192.0.2.1"}]\n',
    )
    with pytest.raises(ConfigError, match="The key /nonexistent/key of the host lab1"):
        open_provisioner(missing_key, "ssh").check()


def test_only_stages_the_pipeline_runs_built_in_have_their_provisioner_checked(tmp_path: Path) -> None:
    linchpin = '[provision.e2e]\nprovisioner = "linchpin"\n'
    config = _load(tmp_path, f'{linchpin}[provision.linchpin]\ncommand = "/nonexistent/lp"\n')
    check_provisioners(config, ["build", "smoke"])  # e2e runs as a command, or not at all
    with pytest.raises(ConfigError, match="/nonexistent/lp"):
        check_provisioners(config, ["smoke", "e2e"])
