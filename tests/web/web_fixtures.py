"""Data for the web tests: one finished run with stages, tests, decisions and a message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ci_pipeline.config import Config
from ci_pipeline.stages.base import TestCaseResult
from ci_pipeline.store.builds import allocate_build_ids
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Decision, OutboxMessage, Run, StageRun, utcnow
from ci_pipeline.store.results import record_test_results
from ci_pipeline.store.states import IgnoreCause

TOKEN = "s3cret-token"
NVR = "ci-calc-1.0-1.3.591b0d2.fc26"


def add_finished_run(
    store: Store, config: Config, *, repo: str = "ci-calc", functional: str = "SUCCESS", generation: int = 0
) -> int:
    """Store one complete run of ``repo`` with build, functional (with tests) and a skipped compose;
    ``generation`` tells a forced re-run of the same change apart."""
    start = utcnow() - timedelta(minutes=5)
    log_dir = Path(config.state_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        run = Run(
            repo=repo,
            rev="591b0d2" + "0" * 33,
            namespace="rpms",
            branch="f26",
            generation=generation,
            ci_name="ci-pipeline-f26",
            build_id=allocate_build_ids(session, "ci-pipeline-f26", 1)[0],
            state="complete",
            status=functional,
            created_at=start,
            started_at=start,
            finished_at=start + timedelta(seconds=90),
        )
        session.add(run)
        session.flush()
        run.fields = {
            "nvr": NVR if repo == "ci-calc" else f"{repo}-1-1.fc26",
            "build_url": f"{config.web_base_url}/job/ci-pipeline-f26/{run.build_id}/",
        }
        rows = []
        for position, (stage, state, status) in enumerate(
            [
                ("build", "complete", "SUCCESS"),
                ("functional", "complete", functional),
                ("compose", "skipped", None),
            ]
        ):
            log = log_dir / f"{run.id}-{stage}.log"
            log.write_text("".join(f"{stage} line {n}\n" for n in range(1, 51)))
            row = StageRun(
                run_id=run.id,
                position=position,
                stage=stage,
                state=state,
                status=status,
                attempt=1 if state == "complete" else 0,
                log_path=str(log) if status else "",
                started_at=start + timedelta(seconds=30 * position),
                finished_at=start + timedelta(seconds=30 * position + 25),
                outputs={},
            )
            session.add(row)
            rows.append(row)
        session.flush()
        record_test_results(
            session,
            rows[1].id,
            run.id,
            [
                TestCaseResult("test_add", "PASSED", 0.5),
                TestCaseResult("test_div", "FAILED" if functional != "SUCCESS" else "PASSED", 0.25, "boom"),
            ],
        )
        session.add(
            Decision(
                msg_id="2017-x",
                repo=repo,
                rev=run.rev,
                namespace="rpms",
                branch="f26",
                decision="queued",
                reason=f"The package '{repo}' on f26 is tracked.",
                build_id=run.build_id,
                run_id=run.id,
            )
        )
        session.add(
            Decision(
                msg_id="2017-y",
                repo="vim",
                rev="a" * 40,
                namespace="rpms",
                branch="f26",
                decision="ignore",
                reason="The package 'vim' is not part of the tracked OS.",
                ignore_cause=IgnoreCause.PACKAGE,
                build_id=7,
            )
        )
        session.add(
            OutboxMessage(
                run_id=run.id,
                topic="org.centos.prod.ci.pipeline.package.complete",
                payload=b'{"msg": {"repo": "%s", "rev": "%s", "status": "SUCCESS"}}'
                % (repo.encode(), run.rev.encode()),
            )
        )
        return run.id
