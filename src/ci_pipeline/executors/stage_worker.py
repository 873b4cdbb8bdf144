"""Runs one built-in stage in a fresh process: ``python -m ci_pipeline.executors.stage_worker JOB RESULT``.

JOB is a JSON file describing the attempt (:mod:`~ci_pipeline.executors.codec`); the worker imports
the stage function, calls it with the :class:`~ci_pipeline.stage_contract.StageContext` and writes
the outcome to RESULT in the same codec. SIGTERM (from the scheduler on a timeout or cancel)
unwinds the stage so that the tools it started are killed too. Where the attempt has a PID
namespace, the worker is its first process: whatever its tools leave running ends when the worker
exits, and the whole namespace is killed when the scheduler dies. Without one, the kernel sends the
worker SIGTERM when the scheduler dies.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from types import FrameType

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.codec import decode_job, encode_outcome
from ci_pipeline.logcontext import log_context
from ci_pipeline.messages.topics import Status
from ci_pipeline.stage_contract import StageContext, StageFunction, StageOutcome


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def load_stage_function(implementation: str, stage: str) -> StageFunction:
    """The built-in stage function ``module:function``; StageFailure when there is none."""
    module_name, _, function_name = implementation.partition(":")
    try:
        module = importlib.import_module(module_name)
        function: StageFunction = getattr(module, function_name)
        return function
    except (ModuleNotFoundError, AttributeError) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name not in (module_name, None):
            raise
        raise StageFailure(
            f"The {stage} stage has no built-in implementation yet; "
            "give it a run command in the pipeline file."
        ) from exc


def run_job(job: StageContext) -> StageOutcome:
    """Run the built-in stage ``job`` names; return how it ended."""
    return run_function(job, lambda: load_stage_function(job.implementation, job.stage))


def run_function(job: StageContext, load: Callable[[], StageFunction]) -> StageOutcome:
    """Run ``job`` with the stage function ``load`` returns; its exceptions become the outcome."""
    ended = StageOutcome(job.run_id, job.stage, job.attempt, Status.FAILURE)
    try:
        with log_context(run_id=job.run_id, stage=job.stage):
            result = load()(job)
    except StageFailure as exc:
        return replace(ended, reason=str(exc), tests=tuple(asdict(test) for test in exc.tests))
    except InfrastructureError as exc:
        return replace(ended, reason=str(exc), infrastructure=True)
    except Exception as exc:
        with job.log_path.open("a", encoding="utf-8") as log:
            log.write(traceback.format_exc())
        return replace(ended, reason=f"internal error: {type(exc).__name__}: {exc}")
    return replace(
        ended,
        status=Status.SUCCESS,
        outputs={str(key): str(value) for key, value in result.outputs.items()},
        summary=result.summary,
        tests=tuple(asdict(test) for test in result.tests),
    )


def main(argv: list[str]) -> int:
    """Read the job file, run it, write the result file."""
    signal.signal(signal.SIGTERM, _stop)
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = decode_job(json.loads(job_path.read_text("utf-8")))
    outcome = run_job(job)
    temporary = result_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(encode_outcome(outcome)), "utf-8")
    temporary.replace(result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
