"""Machines for one stage attempt: lease them, provision them, and always give them back.

:func:`provisioned_hosts` is what a stage calls::

    with provisioned_hosts(ctx, Deployment(image=image, commit=rev, ...)) as hosts:
        ...  # run commands on hosts over SSH

It asks the stage's provisioner (``[provision.<stage>]``) which machines to lease, leases them in the
store all or none (waiting up to ``[provision] wait_seconds`` while other runs hold them, and
reclaiming leases whose holders died meanwhile), renews the leases from a thread while the stage
works, provisions, and on the way out, whatever happened, tears down and releases. A stage process
killed with -9 cannot release: its leases stay until a scheduler reclaims them
(:mod:`ci_pipeline.provision.recovery`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.provision.base import Deployment, Host, Provisioned, Provisioner, ProvisionRequest
from ci_pipeline.provision.recovery import reclaim_leases
from ci_pipeline.provision.registry import open_provisioner
from ci_pipeline.provision.settings import provisioner_name, topology_for
from ci_pipeline.stage_contract import StageContext
from ci_pipeline.store import leases
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.runs import owner_name

log = get_logger(__name__)

#: The first and the longest pause between two tries to lease machines others hold.
FIRST_WAIT_SECONDS = 0.5
LONGEST_WAIT_SECONDS = 5.0


def stage_deployment(
    ctx: StageContext, image: Path, commit: str, compose_url: str, names: Sequence[str]
) -> Deployment:
    """What a stage's machines run: ``image`` (booting members), else ``commit`` from ``compose_url``.

    The ref is the run's ``ref`` field (the compose's); ``compose_url`` is the run's ``compose_url``
    field when it has one. The machines the stage names ``names`` where the member names them.
    """
    return Deployment(
        image=image,
        commit=commit,
        ref=ctx.fields.get("ref", ""),
        compose_url=ctx.fields.get("compose_url") or compose_url,
        names=tuple(names),
    )


def request_for(ctx: StageContext, deployment: Deployment) -> ProvisionRequest:
    """The request of a stage attempt for its ``[provision.<stage>]`` machines."""
    return ProvisionRequest(
        run_id=ctx.run_id,
        stage=ctx.stage,
        attempt=ctx.attempt,
        topology=topology_for(ctx.config, ctx.stage, ctx.options),
        deployment=deployment,
        workdir=ctx.workdir / "machines",
        log_path=ctx.log_path,
        timeout=ctx.timeout,
        consoles=ctx.artifacts_dir,
        accel=ctx.options.get(f"{ctx.stage}_accel", ""),
    )


@contextmanager
def provisioned_hosts(ctx: StageContext, deployment: Deployment) -> Iterator[list[Host]]:
    """The stage's machines, reachable over SSH, for the ``with`` block; see the module docstring."""
    request = request_for(ctx, deployment)
    store = open_store(ctx.config.store.url, migrate=False)
    try:
        with provisioned(ctx.config, store, provisioner_name(ctx.config, ctx.stage), request) as made:
            yield list(made.hosts)
    finally:
        store.close()


@contextmanager
def provisioned(config: Config, store: Store, name: str, request: ProvisionRequest) -> Iterator[Provisioned]:
    """Lease, provision, and afterwards tear down and release the machines of ``request``."""
    provisioner = open_provisioner(config, name)
    provisioner.check()
    request.workdir.mkdir(parents=True, exist_ok=True)
    holder = _Holder(owner_name(), name)
    leased = _lease(config, store, provisioner, request, holder)
    keeper = _LeaseKeeper(store, holder.owner, config.provision.lease_seconds)
    keeper.start()
    try:
        made = provisioner.provision(request, leased)
        try:
            yield made
        finally:
            provisioner.teardown(request, made)
    finally:
        keeper.stop()
        leases.release(store, holder.owner, name, leased)


@dataclass(frozen=True)
class _Holder:
    owner: str
    provisioner: str


def _lease(
    config: Config, store: Store, provisioner: Provisioner, request: ProvisionRequest, holder: _Holder
) -> list[str]:
    """Lease the request's machines, waiting while others hold them; InfrastructureError if time runs out."""
    wanted = provisioner.machines(request)
    count = request.topology.count
    if len(wanted.candidates) < count:
        raise InfrastructureError(
            f"The {holder.provisioner} provisioner has {len(wanted.candidates)} machines; "
            f"the {request.stage} stage asks for {count}."
        )
    deadline = time.monotonic() + config.provision.wait_seconds
    pause = FIRST_WAIT_SECONDS
    while True:
        leased = leases.acquire(
            store,
            holder.provisioner,
            list(wanted.candidates),
            count,
            run_id=request.run_id,
            stage=request.stage,
            attempt=request.attempt,
            holder=holder.owner,
            until=utcnow() + timedelta(seconds=config.provision.lease_seconds),
            details=wanted.details,
        )
        if leased:
            log.info("leased %s from the %s provisioner", ", ".join(leased), holder.provisioner)
            return leased
        if time.monotonic() >= deadline:
            with store.session() as session:
                busy = leases.holders(session, holder.provisioner, list(wanted.candidates))
            raise InfrastructureError(
                _busy_reason(holder.provisioner, request, busy, config.provision.wait_seconds)
            )
        # A dead holder's machines come back sooner when whoever waits for them reclaims them.
        reclaim_leases(config, store, holder.owner)
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LONGEST_WAIT_SECONDS)


def _busy_reason(name: str, request: ProvisionRequest, busy: dict[str, tuple[int, str]], waited: int) -> str:
    held = "; ".join(
        f"{machine} by run {run_id} ({stage})" for machine, (run_id, stage) in sorted(busy.items())
    )
    return (
        f"The {name} provisioner had no {request.topology.count} free machines for the {request.stage} "
        f"stage within {waited} s; held: {held or 'none'}."
    )


class _LeaseKeeper:
    """Renews a holder's leases from a thread while it works, so they outlive ``lease_seconds``."""

    def __init__(self, store: Store, owner: str, lease_seconds: int) -> None:
        self._store = store
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._every = lease_seconds / 4
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lease-keeper", daemon=True)

    def start(self) -> None:
        """Start renewing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the leases are released next)."""
        self._stopped.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                leases.renew(self._store, self._owner, utcnow() + self._lease)
            except Exception as exc:
                log.warning("could not renew the machine leases of %s: %s", self._owner, exc)
