"""Playbooks written for older Ansible, rewritten into current syntax."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.stages.sti.normalize import normalize_playbooks, normalize_text

OLD = """\
- hosts: localhost
  sudo: yes
  sudo_user: root
  vars:
  - a: 1
  - b: [x, y]
  tasks:
  - include: setup.yml
  - name: loop
    raw: echo {{ item }}
    with_items: b
    always_run: yes
  - block:
    - include: inner.yml
    rescue:
    - raw: "true"
      sudo: no
- include: other.yml
"""


def test_old_syntax_becomes_current_syntax() -> None:
    found = normalize_text(OLD)
    assert found is not None
    text, rewrite = found
    plays = yaml.safe_load(text)
    assert plays[0]["become"] is True and plays[0]["become_user"] == "root" and "sudo" not in plays[0]
    assert plays[0]["vars"] == {"a": 1, "b": ["x", "y"]}
    tasks = plays[0]["tasks"]
    assert tasks[0] == {"include_tasks": "setup.yml"}
    assert tasks[1]["with_items"] == "{{ b }}" and tasks[1]["check_mode"] is False
    assert tasks[2]["block"] == [{"include_tasks": "inner.yml"}]
    assert tasks[2]["rescue"][0]["become"] is False
    assert plays[1] == {"import_playbook": "other.yml"}
    assert rewrite.task_files == ["setup.yml", "inner.yml"] and rewrite.play_files == ["other.yml"]


def test_current_playbooks_are_left_alone() -> None:
    current = (
        "- hosts: localhost\n  vars: {a: 1}\n  roles:\n  - role: standard-test-basic\n"
        "    tests: [true]\n  tasks:\n  - raw: x\n    loop: '{{ a }}'\n"
    )
    assert normalize_text(current) is None
    assert normalize_text("- hosts: [ {{\n") is None


PLAY_KEYS = st.sampled_from(["sudo", "sudo_user", "always_run", "vars", "hosts", "include", "tasks"])
VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(PLAY_KEYS, inner, max_size=3)),
    max_leaves=12,
)


@given(st.lists(st.dictionaries(PLAY_KEYS, VALUES, max_size=5), max_size=4))
def test_normalizing_twice_changes_nothing_more(plays: list[dict[str, object]]) -> None:
    text = yaml.safe_dump(plays)
    found = normalize_text(text)
    once = found[0] if found else text
    assert normalize_text(once) is None


def test_included_files_are_rewritten_but_only_inside_the_tests(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "tests.yml").write_text(
        "- hosts: localhost\n  tasks:\n  - import_tasks: old.yml\n- import_playbook: ../out.yml\n"
    )
    (tests / "old.yml").write_text("- raw: x\n  with_items: things\n")
    (tmp_path / "out.yml").write_text("- hosts: all\n  sudo: yes\n")
    lines: list[str] = []
    normalize_playbooks([tests / "tests.yml"], tests, lines.append)
    assert lines == ["old.yml was written for an older Ansible: bare variable -> {{ variable }}."]
    assert yaml.safe_load((tests / "old.yml").read_text()) == [{"raw": "x", "with_items": "{{ things }}"}]
    assert (tmp_path / "out.yml").read_text() == "- hosts: all\n  sudo: yes\n"


def test_a_static_include_becomes_an_import() -> None:
    old = "- include: setup.yml\n  static: yes\n- include: more.yml\n  static: no\n"
    found = normalize_text(old, "tasks")
    assert found is not None
    assert yaml.safe_load(found[0]) == [{"import_tasks": "setup.yml"}, {"include_tasks": "more.yml"}]
