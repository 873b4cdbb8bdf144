"""Runs one built-in stage in a fresh process: ``python -m ci_pipeline.executors.stage_worker JOB RESULT``.

JOB is a JSON file describing the attempt; the worker imports the stage function, calls it with a
:class:`~ci_pipeline.stages.base.StageContext` and writes the outcome as JSON to RESULT. SIGTERM
(from the scheduler on a timeout or cancel) unwinds the stage so that the tools it started are
killed too. Where the attempt has a PID namespace, the worker is its first process: whatever its
tools leave running ends when the worker exits, and the whole namespace is killed when the scheduler
dies. Without one, the kernel sends the worker SIGTERM when the scheduler dies.
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from ci_pipeline.errors import InfrastructureError, StageFailure


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _load_function(implementation: str, stage: str) -> Any:
    module_name, _, function_name = implementation.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, function_name)
    except (ModuleNotFoundError, AttributeError) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name not in (module_name, None):
            raise
        raise StageFailure(
            f"The {stage} stage has no built-in implementation yet; "
            "give it a run command in the pipeline file."
        ) from exc


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the stage ``job`` describes; return its outcome as a JSON-ready dict."""
    from ci_pipeline.config import Config
    from ci_pipeline.logcontext import log_context
    from ci_pipeline.stages.base import StageContext

    log_path = Path(job["log_path"])
    try:
        function = _load_function(job["implementation"], job["stage"])
        context = StageContext(
            run_id=job["run_id"],
            stage=job["stage"],
            attempt=job["attempt"],
            fields=job["fields"],
            workdir=Path(job["workdir"]),
            artifacts_dir=Path(job["artifacts_dir"]),
            artifacts_url=job["artifacts_url"],
            log_path=log_path,
            config=Config.model_validate_json(job["config_json"]),
            options=job["options"],
            timeout=job["timeout"],
        )
        with log_context(run_id=context.run_id, stage=context.stage):
            result = function(context)
    except StageFailure as exc:
        return {"status": "FAILURE", "reason": str(exc), "tests": [asdict(test) for test in exc.tests]}
    except InfrastructureError as exc:
        return {"status": "FAILURE", "reason": str(exc), "infrastructure": True}
    except Exception as exc:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(traceback.format_exc())
        return {"status": "FAILURE", "reason": f"internal error: {type(exc).__name__}: {exc}"}
    return {
        "status": "SUCCESS",
        "outputs": {str(key): str(value) for key, value in result.outputs.items()},
        "summary": result.summary,
        "tests": [asdict(test) for test in result.tests],
    }


def main(argv: list[str]) -> int:
    """Read the job file, run it, write the result file."""
    signal.signal(signal.SIGTERM, _stop)
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text("utf-8"))
    outcome = run_job(job)
    temporary = result_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(outcome), "utf-8")
    temporary.replace(result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
