"""The one codec of stage jobs and outcomes: every job and outcome survives it; malformed ones are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.config import Config, load_config
from ci_pipeline.executors.codec import decode_job, decode_outcome, encode_job, encode_outcome
from ci_pipeline.messages.topics import Status
from ci_pipeline.stage_contract import StageContext, StageOutcome

CHARACTERS = st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=("Cs",))
TEXT = st.text(CHARACTERS, max_size=20)
TEXT_MAP = st.dictionaries(TEXT, TEXT, max_size=4)
PATHS = st.builds(lambda name: Path("/srv") / f"p{name}", st.integers(min_value=0))
NUMBER = st.floats(allow_nan=False, allow_infinity=False)
CONFIG = load_config(environ={"CI_PIPELINE_STATE_DIR": "/srv/state", "CI_PIPELINE_PIPELINE_SUPERSEDE": "1"})

JOBS = st.builds(
    StageContext,
    run_id=st.integers(min_value=1, max_value=2**62), stage=TEXT,
    attempt=st.integers(min_value=1, max_value=99),
    fields=TEXT_MAP, workdir=PATHS, artifacts_dir=PATHS, artifacts_url=TEXT, log_path=PATHS,
    config=st.just(CONFIG), options=TEXT_MAP, timeout=st.none() | NUMBER,
    command=st.none() | TEXT, implementation=TEXT,
)
TESTS = st.fixed_dictionaries({"name": TEXT, "outcome": st.sampled_from(["PASSED", "FAILED", "ERROR"])},
                              optional={"duration": NUMBER, "log": TEXT})


@given(JOBS)
def test_a_job_survives_json(job: StageContext) -> None:
    back = decode_job(json.loads(json.dumps(encode_job(job))))
    expected_config = job.config if job.command is None else Config()  # only built-in stages read it
    assert back == StageContext(**{**job.__dict__, "config": expected_config})


@given(JOBS)
def test_a_portable_job_takes_the_paths_and_configuration_of_where_it_runs(job: StageContext) -> None:
    paths = {"workdir": Path("/w"), "artifacts_dir": Path("/a"), "log_path": Path("/w/log")}
    data = json.loads(json.dumps(encode_job(job, portable=True)))
    assert not {"workdir", "config"} & set(data)
    back = decode_job(data, config=CONFIG, paths=paths)
    assert back == StageContext(**{**job.__dict__, **paths, "config": CONFIG})


@given(JOBS, st.sampled_from(list(Status)), TEXT, TEXT_MAP, st.booleans(), NUMBER, TEXT,
       st.lists(TESTS, max_size=3))
def test_an_outcome_survives_json_as_the_outcome_of_its_job(
    job: StageContext, status: Status, reason: str, outputs: dict[str, str], infrastructure: bool,
    duration: float, summary: str, tests: list[dict[str, Any]],
) -> None:
    outcome = StageOutcome(job.run_id, job.stage, job.attempt, status, reason, outputs, infrastructure,
                           duration, summary, tuple(tests))
    assert decode_outcome(json.loads(json.dumps(encode_outcome(outcome))), job) == outcome


@pytest.mark.parametrize(("change", "problem"), [
    ({"status": "MAYBE"}, "the outcome's status 'MAYBE' is not a status"),
    ({"outputs": {"a": 1}}, "a value of outputs is not text"),
    ({"outputs": ["a"]}, "outputs is not an object"),
    ({"infrastructure": "yes"}, "the outcome's infrastructure flag is not true or false"),
    ({"tests": [{"outcome": "PASSED"}]}, "a test has no name or outcome"),
    ({"tests": [{"name": "a", "outcome": "PASSED", "duration": "slow"}]}, "a test's duration is not a float"),
    ({"reason": None}, "reason is not text"),
])
def test_a_malformed_outcome_is_refused_in_one_sentence(change: dict[str, Any], problem: str) -> None:
    job = StageContext(1, "build", 1, {}, Path("/w"), Path("/a"), "", Path("/l"))
    data = {**encode_outcome(StageOutcome(1, "build", 1, Status.SUCCESS)), **change}
    with pytest.raises(ValueError, match=f"^The stage document is malformed: {problem}.$"):
        decode_outcome(data, job)


@pytest.mark.parametrize(("change", "problem"), [
    ({"run_id": True}, "run_id is not an integer"),
    ({"command": 3}, "the job's command is not text"),
    ({"workdir": None}, "workdir is not text"),
    ({"config": "{\"executor\": {\"kind\": \"nope\"}}"}, "its configuration is invalid"),
])
def test_a_malformed_job_is_refused(change: dict[str, Any], problem: str) -> None:
    job = StageContext(1, "build", 1, {}, Path("/w"), Path("/a"), "", Path("/l"))
    with pytest.raises(ValueError, match=problem):
        decode_job({**encode_job(job), **change})
