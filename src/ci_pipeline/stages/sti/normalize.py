"""Playbooks written for older Ansible, rewritten into the syntax the shipped ansible-core reads.

Fedora's dist-git ``tests/tests*.yml`` date back to Ansible 2.2-2.4. ansible-core refuses what they
use, so before a run each playbook (and every play or task file it includes by a plain relative
path inside the tests directory) is rewritten when, and only when, it uses one of:

- ``vars:`` as a list of mappings (``vars: [{a: 1}, {b: 2}]``): merged into one mapping;
- ``include:`` of a playbook (a play-level entry): ``import_playbook:``; of tasks: ``include_tasks:``
  (``import_tasks:`` with ``static: yes``);
- ``sudo:`` / ``sudo_user:``: ``become:`` / ``become_user:``;
- ``always_run: yes``: ``check_mode: no``;
- bare variables in loops (``with_items: packages``): ``with_items: "{{ packages }}"``.

A file that needs none of this is left byte for byte as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

_TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]+\])*")
_LITERAL_PATH = re.compile(r"[A-Za-z0-9_./-]+\.ya?ml")


class Rewrite:
    """The rewriting of one file, and what it changed (for the stage's log)."""

    def __init__(self) -> None:
        self.changes: list[str] = []
        self.play_files: list[str] = []
        self.task_files: list[str] = []

    def note(self, change: str) -> None:
        """Remember one kind of change."""
        if change not in self.changes:
            self.changes.append(change)

    def plays(self, plays: Any) -> Any:
        """A playbook (a list of plays and imports) in current syntax."""
        if not isinstance(plays, list):
            return plays
        return [self.play(p) if isinstance(p, dict) else p for p in plays]

    def play(self, play: dict[str, Any]) -> dict[str, Any]:
        """One play (or play-level include) in current syntax."""
        play = self.common(play)
        if "include" in play and "hosts" not in play:
            target = play.pop("include")
            play = {"import_playbook": target, **play}
            self.note("include (of a playbook) -> import_playbook")
        if isinstance(play.get("import_playbook"), str):
            self.follow(play["import_playbook"], self.play_files)
        for key in _TASK_LISTS:
            if key in play:
                play[key] = self.tasks(play[key])
        if isinstance(play.get("roles"), list):
            play["roles"] = [self.common(r) if isinstance(r, dict) else r for r in play["roles"]]
        return play

    def tasks(self, tasks: Any) -> Any:
        """A list of tasks in current syntax."""
        if not isinstance(tasks, list):
            return tasks
        return [self.task(t) if isinstance(t, dict) else t for t in tasks]

    def task(self, task: dict[str, Any]) -> dict[str, Any]:
        """One task (or block) in current syntax."""
        task = self.common(task)
        if "include" in task:
            # ``static: yes`` asked for what import_tasks now does; neither takes the keyword.
            static = _truthy(task.get("static", False))
            name = "import_tasks" if static else "include_tasks"
            task = {(name if k == "include" else k): v for k, v in task.items() if k != "static"}
            self.note(f"include (of tasks) -> {name}")
        for key in ("include_tasks", "import_tasks"):
            if isinstance(task.get(key), str):
                self.follow(task[key], self.task_files)
        for key in _TASK_LISTS:
            if key in task:
                task[key] = self.tasks(task[key])
        for key, value in list(task.items()):
            looping = key.startswith("with_") or key == "loop"
            if (
                looping
                and isinstance(value, str)
                and "{{" not in value
                and _IDENTIFIER.fullmatch(value.strip())
            ):
                task[key] = "{{ " + value.strip() + " }}"
                self.note("bare variable -> {{ variable }}")
        return task

    def common(self, item: dict[str, Any]) -> dict[str, Any]:
        """What plays, roles, blocks and tasks share: vars, sudo, always_run."""
        renamed = {"sudo": "become", "sudo_user": "become_user", "always_run": "check_mode"}
        if not any(key in item for key in renamed) and not isinstance(item.get("vars"), list):
            return item
        result: dict[str, Any] = {}
        for key, value in item.items():
            if key == "vars" and isinstance(value, list):
                merged: dict[str, Any] = {}
                for part in value:
                    if isinstance(part, dict):
                        merged.update(part)
                value = merged
                self.note("vars: list -> mapping")
            elif key == "always_run":
                value = not _truthy(value)
                self.note("always_run -> check_mode")
            elif key in renamed:
                self.note(f"{key} -> {renamed[key]}")
            result[renamed.get(key, key)] = value
        return result

    def follow(self, target: str, into: list[str]) -> None:
        """Remember an included file to rewrite too, when it is a plain relative path."""
        if _LITERAL_PATH.fullmatch(target) and not target.startswith("/"):
            into.append(target)


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"yes", "true", "on", "1"}


def normalize_text(text: str, kind: str = "plays") -> tuple[str, Rewrite] | None:
    """The file's text in current syntax and what changed, or None when nothing had to change.

    ``kind`` is ``plays`` for a playbook, ``tasks`` for a task file. Text that is not YAML is left
    to ansible-playbook, which says what is wrong with it.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    rewrite = Rewrite()
    rewritten = rewrite.plays(document) if kind == "plays" else rewrite.tasks(document)
    if not rewrite.changes:
        return None
    return yaml.safe_dump(rewritten, sort_keys=False, allow_unicode=True, width=1000), rewrite


def normalize_playbooks(playbooks: list[Path], tests_dir: Path, report: Callable[[str], None]) -> None:
    """Rewrite, in place, the playbooks and the files they include that use older Ansible syntax.

    ``report`` receives one line per rewritten file. Files outside ``tests_dir`` are not touched.
    """
    root = tests_dir.resolve()
    pending = [(p, "plays") for p in playbooks]
    done: set[Path] = set()
    while pending:
        path, kind = pending.pop(0)
        resolved = path.resolve()
        if resolved in done or not resolved.is_relative_to(root) or not resolved.is_file():
            continue
        done.add(resolved)
        try:
            text = resolved.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = normalize_text(text, kind)
        rewrite = Rewrite()
        if found is not None:
            new_text, rewrite = found
            resolved.write_text(new_text, encoding="utf-8")
            changes = "; ".join(rewrite.changes)
            report(f"{resolved.relative_to(root)} was written for an older Ansible: {changes}.")
        else:
            # Still follow its includes: an up-to-date playbook may include an old task file.
            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if kind == "plays":
                rewrite.plays(document)
            else:
                rewrite.tasks(document)
        pending += [(resolved.parent / f, "plays") for f in rewrite.play_files]
        pending += [(resolved.parent / f, "tasks") for f in rewrite.task_files]
