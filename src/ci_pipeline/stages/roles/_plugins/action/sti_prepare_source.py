"""Ansible action plugin ``sti_prepare_source``: the engine of the shipped ``standard-test-source`` role.

It runs on the controller: the package's sources, unpacked and patched by ``rpmbuild -bp``, go to
``srcdir`` beside the tests, which the test roles copy to the subject. The rules live in
:mod:`ci_pipeline.stages.sti.source`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

from ci_pipeline.stages.sti.source import SourceError, prepare_source


class ActionModule(ActionBase):  # type: ignore[misc]
    """Prepare the package's sources for the tests; see the module docstring."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("tests_dir", "srcdir"))

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        """Unpack the sources into ``srcdir``."""
        result: dict[str, Any] = super().run(tmp, task_vars)
        tests_dir = Path(str(self._task.args["tests_dir"]))
        srcdir = Path(str(self._task.args.get("srcdir") or tests_dir / "source"))
        if not srcdir.resolve().is_relative_to(tests_dir.resolve()):
            raise AnsibleActionFail(f"srcdir {srcdir} is not inside the tests' directory {tests_dir}.")
        try:
            prepare_source(tests_dir, srcdir)
        except SourceError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        result.update(changed=True, srcdir=str(srcdir), msg=f"The sources are in {srcdir}.")
        return result
