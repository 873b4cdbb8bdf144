"""Data for the gating tests: results in the store, runs that built an NVR, and dist-git repositories."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Result, Run, utcnow

DATA = Path(__file__).parent.parent / "data" / "gating"
NVR = "ci-calc-1.0-1.3.591b0d2.fc26"


def policy_text(name: str) -> str:
    """The text of a policy file under tests/data/gating/."""
    return (DATA / name).read_text("utf-8")


def add_result(
    store: Store,
    item: str,
    testcase: str,
    outcome: str,
    *,
    type: str = "koji_build",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    run_id: int | None = None,
) -> int:
    """Store one result as ResultsDB would hold it; return its id."""
    values = {"item": [item], "type": [type], **{k: [v] for k, v in (data or {}).items()}}
    with store.session() as session:
        row = Result(
            testcase=testcase,
            outcome=outcome,
            item=item,
            type=type,
            data=values,
            submit_time=at or utcnow(),
            run_id=run_id,
            source="api",
        )
        session.add(row)
        session.flush()
        return row.id


def add_build(store: Store, nvr: str, repo: str, rev: str, namespace: str = "rpms") -> int:
    """Store a run of ``repo`` at ``rev`` that built ``nvr`` (with its build result); return the run id."""
    with store.session() as session:
        count = session.query(Run).count()
        run = Run(
            repo=repo,
            rev=rev,
            namespace=namespace,
            branch="f26",
            ci_name="ci-pipeline-f26",
            build_id=count + 1,
            fields={"nvr": nvr},
        )
        session.add(run)
        session.flush()
        run_id = run.id
    add_result(store, nvr, "ci-pipeline.build", "PASSED", run_id=run_id, at=utcnow() - timedelta(hours=1))
    return run_id


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git quietly and return what it printed."""
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(cwd or Path.cwd()),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def distgit_commit(root: Path, repo: str, files: dict[str, str], namespace: str = "rpms") -> str:
    """Commit ``files`` to the bare dist-git repository ``root/namespace/repo.git``; return the commit."""
    bare = root / namespace / f"{repo}.git"
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", str(bare))
    work = root / "work" / repo
    if not work.exists():
        work.mkdir(parents=True)
        git("init", "--quiet", cwd=work)
        git("remote", "add", "origin", str(bare), cwd=work)
    for old in work.iterdir():
        if old.name != ".git":
            old.unlink()
    for name, text in files.items():
        (work / name).write_text(text)
    (work / "ci.spec").write_text(f"Name: {repo}\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "--allow-empty", "-m", "change", cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def distgit_template(root: Path) -> str:
    """The ``[distgit] url`` template of the repositories under ``root``."""
    return f"file://{root}/{{namespace}}/{{repo}}.git"
