"""Configuration: defaults < TOML file < environment; mistakes are one sentence."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.config import load_config
from ci_pipeline.errors import ConfigError
from ci_pipeline.stages.artifacts import BranchArtifacts, repo_location
from ci_pipeline.stages.fields import Change


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ci-pipeline.toml"
    path.write_text(text)
    return path


def test_defaults_keep_state_under_state_dir(tmp_path: Path) -> None:
    config = load_config(environ={"CI_PIPELINE_STATE_DIR": str(tmp_path)})
    assert config.bus.url == f"sqlite:///{tmp_path}/bus.sqlite"
    assert config.store.url == f"sqlite:///{tmp_path}/store.sqlite"
    assert config.bus.topic_prefix == "org.centos"
    assert config.bus.trigger_topics == [
        "org.fedoraproject.prod.git.receive",
        "org.fedoraproject.prod.git.receive.*",
        "org.fedoraproject.prod.pagure.git.receive",
    ]
    assert config.pipeline.username == "fedora-atomic"


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[bus]\nenvironment = "stage"\n[trigger]\npackages = ["vim"]\n')
    config = load_config(path, environ={"CI_PIPELINE_TRIGGER_PACKAGES": "vim,kernel"})
    assert config.bus.environment == "stage"
    assert config.trigger.packages == ["vim", "kernel"]


def test_a_stage_service_hears_fedoras_stg_pushes_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[bus]\nenvironment = "stage"\n'), environ={})
    assert config.bus.trigger_topics == [
        "org.fedoraproject.stg.git.receive",
        "org.fedoraproject.stg.git.receive.*",
        "org.fedoraproject.stg.pagure.git.receive",
    ]


def test_the_older_trigger_topic_key_is_folded_into_the_list(tmp_path: Path) -> None:
    older = write(tmp_path, '[bus]\ntrigger_topic = "org.example.prod.git.receive"\n')
    assert load_config(older, environ={}).bus.trigger_topics[-1] == "org.example.prod.git.receive"
    assert len(load_config(older, environ={}).bus.trigger_topics) == 4
    both = write(tmp_path, '[bus]\ntrigger_topics = ["a.git.receive"]\ntrigger_topic = "b.git.receive"\n')
    assert load_config(both, environ={}).bus.trigger_topics == ["a.git.receive", "b.git.receive"]
    same = write(tmp_path, '[bus]\ntrigger_topic = "org.fedoraproject.prod.git.receive"\n')
    assert load_config(same, environ={}).bus.trigger_topics == load_config(environ={}).bus.trigger_topics
    listed = {"CI_PIPELINE_BUS_TRIGGER_TOPICS": "a.git.receive, b.pagure.git.receive"}
    assert load_config(environ=listed).bus.trigger_topics == ["a.git.receive", "b.pagure.git.receive"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("[]", "at least one topic"),
        ('["a b"]', "'a b' is not a topic glob"),
        ('["' + "a" * 256 + '"]', "is not a topic glob"),
    ],
)
def test_trigger_topic_mistakes_name_the_key(value: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=rf"'bus\.trigger_topics' in the environment is wrong: .*{reason}"):
        load_config(environ={"CI_PIPELINE_BUS_TRIGGER_TOPICS": value})


def test_config_file_from_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[pipeline]\nusername = "someone"\n')
    assert load_config(environ={"CI_PIPELINE_CONFIG": str(path)}).pipeline.username == "someone"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[bus]\nurll = 'x'\n")
    with pytest.raises(ConfigError, match=r"Unknown configuration key 'bus.urll' in .*ci-pipeline.toml"):
        load_config(path, environ={})


def test_the_e2e_machine_count_is_set_only_in_its_provision_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'e2e\.machines'"):
        load_config(write(tmp_path, "[e2e]\nmachines = 3\n"), environ={})
    config = load_config(write(tmp_path, "[provision.e2e]\ncount = 5\n"), environ={})
    assert config.provision.e2e.count == 5


def test_wrong_type_names_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[pipeline]\nsupersede = 'sometimes'\n")
    with pytest.raises(ConfigError, match=r"'pipeline\.supersede'"):
        load_config(path, environ={})


def test_bad_regex_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trigger\.branches"):
        load_config(write(tmp_path, "[trigger]\nbranches = '('\n"), environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[trigger\n"), environ={})


def test_missing_file_and_unknown_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="CI_PIPELINE_BUS_NOPE"):
        load_config(environ={"CI_PIPELINE_BUS_NOPE": "1"})


@given(st.text(max_size=40))
def test_any_environment_value_is_accepted_or_one_config_error(value: str) -> None:
    try:
        config = load_config(environ={"CI_PIPELINE_EXECUTOR_CONCURRENCY": value})
    except ConfigError as exc:
        assert "executor.concurrency" in str(exc)
    else:
        assert config.executor.concurrency >= 0


def test_the_message_time_window_defaults_to_a_day_back_and_five_minutes_ahead() -> None:
    config = load_config(environ={})
    assert (config.bus.max_message_age, config.bus.max_clock_skew) == (86400, 300)


def test_the_message_time_window_from_file_and_environment_and_zero_turns_it_off(tmp_path: Path) -> None:
    path = write(tmp_path, "[bus]\nmax_message_age = 3600\nmax_clock_skew = 0\n")
    config = load_config(path, environ={"CI_PIPELINE_BUS_MAX_CLOCK_SKEW": "60"})
    assert (config.bus.max_message_age, config.bus.max_clock_skew) == (3600, 60)
    assert load_config(path, environ={}).bus.max_clock_skew == 0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[bus]\nmax_message_age = -1\n", "bus.max_message_age"),
        ("[bus]\nmax_clock_skew = 'soon'\n", "bus.max_clock_skew"),
        ("[pipeline]\narch = '../x86_64'\n", "pipeline.arch"),
        ("[bus]\ntopic_prefix = 'Org.Centos'\n", "bus.topic_prefix"),
        ("[bus]\ntopic_prefix = '" + "a" * 151 + "'\n", "bus.topic_prefix"),
    ],
)
def test_window_arch_and_topic_prefix_mistakes_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"'{re.escape(key)}' in .*ci-pipeline.toml is wrong"):
        load_config(path, environ={})


def test_a_relative_artifact_root_is_one_absolute_path_for_the_build_and_the_compose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = write(tmp_path, 'state_dir = "state"\n[artifacts]\nroot = "arts"\n')
    config = load_config(path, environ={})
    assert config.artifacts.root == str(work / "state" / "arts")
    assert config.artifact_root == work / "state" / "arts"
    monkeypatch.chdir(tmp_path)  # nothing resolves again later
    change = Change(namespace="rpms", repo="vim", rev="0" * 40, branch="f26")
    published, _ = repo_location(config, change)
    compose_reads = BranchArtifacts.of(config, {"branch": "f26"}).root / "repo" / "vim_repo"
    assert published == compose_reads == work / "state" / "arts" / "f26" / "repo" / "vim_repo"


def test_file_paths_are_absolute_once_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text("")
    path = write(
        tmp_path,
        '[pipeline]\nfile = "pipeline.toml"\n[trigger]\ntreefile = "t.json"\n[web]\npolicy_file = "p.yaml"\n'
        '[bus]\nca = "ca.pem"\n',
    )
    config = load_config(path, environ={})
    assert config.pipeline.file == str(tmp_path / "pipeline.toml")
    assert config.trigger.treefile == str(tmp_path / "t.json")
    assert config.web.policy_file == str(tmp_path / "p.yaml")
    assert config.bus.ca == str(tmp_path / "ca.pem")
    assert config.state_dir == str(tmp_path / ".ci-pipeline")


def test_a_relative_pipeline_file_missing_here_is_the_state_directorys(tmp_path: Path) -> None:
    path = write(tmp_path, f'state_dir = "{tmp_path / "state"}"\n[pipeline]\nfile = "nowhere-here.toml"\n')
    assert load_config(path, environ={}).pipeline.file == str(tmp_path / "state" / "nowhere-here.toml")
