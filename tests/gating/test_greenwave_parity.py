"""The same policy and results through Greenwave's own policy module and through ours.

Greenwave is not a dependency: the test runs its ``greenwave.policies`` in the interpreter named by
``$GREENWAVE_PYTHON`` (default ``.venv-greenwave/bin/python``, made by ``scripts/setup.sh`` with
``pip install greenwave``) and is skipped only when that module cannot be imported there. The
published Greenwave predates some of its later answer types, so answers are compared in its
vocabulary: an ERROR result and a QUEUED or RUNNING one are ``test-result-failed`` there, and a
waived failure is ``passed``.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.gating.decision import DecisionRequest, Gate, decide
from ci_pipeline.gating.policies import parse_policies
from ci_pipeline.store.db import Store

from .helpers import add_result

PYTHON = os.environ.get(
    "GREENWAVE_PYTHON", str(Path(__file__).resolve().parents[2] / ".venv-greenwave" / "bin" / "python")
)
POLICY = """
--- !Policy
id: parity
product_versions: [fedora-*]
decision_context: bodhi_update_push_stable
subject_type: koji_build
blacklist: [kernel]
rules:
  - !PassingTestCaseRule {test_case_name: dist.abicheck}
  - !PassingTestCaseRule {test_case_name: dist.rpmdeplint, scenario: x86_64}
"""
DRIVER = """
import json, sys
from greenwave.policies import Policy
case = json.load(sys.stdin)
(policy,) = Policy.safe_load_all(case["policy"])
out = {}
for nvr, subject in case["subjects"].items():
    out[nvr] = [a.to_json() for a in policy.check(nvr, subject["results"], subject["waivers"])]
print(json.dumps(out))
"""
OUTCOMES = (None, "PASSED", "INFO", "FAILED", "NEEDS_INSPECTION", "ERROR", "RUNNING")
#: Our answer types in the words of the published Greenwave.
IN_ITS_WORDS = {
    "test-result-errored": "test-result-failed",
    "test-result-incomplete": "test-result-failed",
    "test-result-failed-waived": "test-result-passed",
    "test-result-errored-waived": "test-result-passed",
    "test-result-incomplete-waived": "test-result-passed",
}


def _greenwave_importable() -> bool:
    if not Path(PYTHON).exists():
        return False
    probe = subprocess.run([PYTHON, "-c", "import greenwave.policies"], capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _greenwave_importable(), reason=f"greenwave.policies is not importable by {PYTHON}"
)


def _cases() -> list[tuple[str, str | None, str | None, str | None, bool]]:
    """(nvr, abicheck outcome, rpmdeplint outcome, rpmdeplint scenario, waived) for every combination."""
    cases = []
    for n, (abi, dep, scenario, waived) in enumerate(
        itertools.product(OUTCOMES, OUTCOMES, ("x86_64", "aarch64"), (False, True))
    ):
        package = "kernel" if n % 17 == 0 else f"pkg{n}"
        cases.append((f"{package}-1.0-{n}.fc26", abi, dep, scenario, waived))
    return cases


def test_answers_match_greenwaves(sqlite_store: Store) -> None:
    subjects: dict[str, Any] = {}
    waivers: dict[str, list[dict[str, Any]]] = {}
    for nvr, abi, dep, scenario, waived in _cases():
        results = []
        for testcase, outcome, data in (
            ("dist.abicheck", abi, {}),
            ("dist.rpmdeplint", dep, {"scenario": scenario}),
        ):
            if outcome is None:
                continue
            result_id = add_result(sqlite_store, nvr, testcase, outcome, data=data)
            values = {"item": [nvr], "type": ["koji_build"], **{k: [v] for k, v in data.items()}}
            results.append(
                {"id": result_id, "testcase": {"name": testcase}, "outcome": outcome, "data": values}
            )
        waivers[nvr] = [
            {"id": 1, "subject_type": "koji_build", "subject_identifier": nvr, "testcase": t, "waived": True}
            for t in ("dist.abicheck", "dist.rpmdeplint")
            if waived
        ]
        subjects[nvr] = {"results": results[::-1], "waivers": waivers[nvr]}
    done = subprocess.run(
        [PYTHON, "-c", DRIVER],
        input=json.dumps({"policy": POLICY, "subjects": subjects}),
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(done.stdout)
    gate = Gate(parse_policies(POLICY))
    compared = 0
    with sqlite_store.session() as session:
        for nvr in subjects:
            ask = DecisionRequest((("koji_build", nvr),), ("bodhi_update_push_stable",), "fedora-26")
            ours = decide(session, ask, waivers[nvr], gate)
            mine = ours["satisfied_requirements"] + ours["unsatisfied_requirements"]
            got = sorted((IN_ITS_WORDS.get(r["type"], r["type"]), r.get("result_id")) for r in mine)
            expected = sorted((r["type"], r.get("result_id")) for r in theirs[nvr])
            assert got == expected, nvr
            compared += 1
    assert compared == len(_cases())
