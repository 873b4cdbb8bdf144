"""ci-pipeline and the real fedmsg library on real ZeroMQ sockets, both ways, and their X.509 verdicts.

fedmsg is not a dependency: it runs in the interpreter named by ``$FEDMSG_PYTHON`` (default
``.venv-fedmsg/bin/python``, which ``scripts/setup.sh`` makes with ``pip install fedmsg``), through
``fedmsg_peer.py``. A missing fedmsg fails the test: set-up installs it everywhere.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from x509_fixtures import FedmsgPKI

from ci_pipeline.bus import open_bus
from ci_pipeline.config import Config
from ci_pipeline.engine.relay import relay_outbox
from ci_pipeline.errors import BusError, SignatureError
from ci_pipeline.messages.builders import encode_message
from ci_pipeline.messages.envelope import make_envelope
from ci_pipeline.messages.signing import X509Signer, signer_from_config, verifier_from_config
from ci_pipeline.service import Service
from ci_pipeline.store.db import open_store
from ci_pipeline.store.models import Decision
from ci_pipeline.store.outbox import add_messages

PEER = Path(__file__).with_name("fedmsg_peer.py")
PYTHON = os.environ.get("FEDMSG_PYTHON",
                        str(Path(__file__).resolve().parents[2] / ".venv-fedmsg" / "bin" / "python"))
REVS = ["591b0d2fc67a45e4ad13bdc3e312d5554852426a", "7b1a4f1e6a2b4c3d8e9f0a1b2c3d4e5f60718293",
        "0123456789abcdef0123456789abcdef01234567"]


@pytest.fixture(scope="module")
def fedmsg_python() -> str:
    probe = subprocess.run([PYTHON, "-c", "import fedmsg.crypto.x509_ng as x; assert x._cryptography"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.fail(f"fedmsg with its X.509 backend is not importable by {PYTHON}; run scripts/setup.sh "
                    f"({probe.stderr.strip()[-300:]})")
    return PYTHON


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> FedmsgPKI:
    return FedmsgPKI(tmp_path_factory.mktemp("pki"), ("peer", "ci-pipeline"), revoked=("revoked",))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peer_config(path: Path, pki: FedmsgPKI, **settings: Any) -> Path:
    """A fedmsg configuration file for the peer: our CA and CRL, its own key pair in the ssldir."""
    config = {
        "topic_prefix": "org.fedoraproject", "environment": "prod", "io_threads": 1,
        "ssldir": str(pki.ssldir), "certnames": {"peer.host": "peer"},
        "ca_cert_location": str(pki.ca_path), "crl_location": str(pki.crl_path),
        "routing_policy": {}, "routing_nitpicky": False, "post_init_sleep": 0.5, "endpoints": {},
        **settings,
    }
    path.write_text(json.dumps(config))
    return path


def ours(config: Config, pki: FedmsgPKI, url: str) -> Config:
    """Our configuration on ``url``, signing with SHA-1 as fedmsg does and trusting the test CA."""
    bus = config.bus.model_copy(update={
        "url": url, "certificate": str(pki.certificate("ci-pipeline")),
        "private_key": str(pki.key("ci-pipeline")),
        "ca": str(pki.ca_path), "crl": str(pki.crl_path), "signature_digest": "sha1"})
    return config.model_copy(update={"bus": bus})


def test_fedmsg_publishes_signed_pushes_that_queue_runs(fedmsg_python: str, pki: FedmsgPKI,
                                                        config: Config, tmp_path: Path) -> None:
    port = free_port()
    settings = ours(config, pki, f"zmq://?endpoint=tcp://127.0.0.1:{port}")
    store = open_store(settings.store.url)
    bus = open_bus(settings.bus.url)
    service = Service(settings, store, bus)
    service.engine = None
    peer_file = peer_config(tmp_path / "peer.json", pki, name="peer.host", sign_messages=True,
                            endpoints={"peer.host": [f"tcp://127.0.0.1:{port}"]},
                            push={"repo": "vim", "branch": "f26", "revs": REVS})
    with subprocess.Popen([fedmsg_python, str(PEER), "publish", str(peer_file), str(len(REVS))],
                          stderr=subprocess.PIPE, text=True) as peer:
        try:
            deadline, consumed = time.monotonic() + 30, 0
            while consumed < len(REVS) and time.monotonic() < deadline:
                consumed += service.consume_pushes()
            _, err = peer.communicate(timeout=30)
            assert peer.returncode == 0, err
        finally:
            peer.kill()
            bus.close()
    with store.session() as session:
        decisions = session.scalars(select(Decision).order_by(Decision.id)).all()
        assert [(d.repo, d.rev, d.decision) for d in decisions] == [("vim", rev, "queued") for rev in REVS]
    store.close()


def run_messages(seed_dir: Path) -> list[tuple[str, bytes]]:
    """Every topic a run sends, with the seed's bodies, encoded as the engine puts them in the outbox."""
    messages = []
    for path in sorted((seed_dir / "messages").glob("org.centos.*.json")):
        envelope = json.loads(path.read_text())
        messages.append((envelope["topic"], encode_message(envelope["topic"], envelope["msg"])))
    return messages


def test_fedmsg_consumer_validates_every_message_a_run_sends(fedmsg_python: str, pki: FedmsgPKI,
                                                             config: Config, seed_dir: Path,
                                                             tmp_path: Path) -> None:
    port = free_port()
    settings = ours(config, pki, f"zmq://127.0.0.1:{port}?unroutable=error")
    messages = run_messages(seed_dir)
    store = open_store(settings.store.url)
    with store.session() as session:
        add_messages(session, [{"run_id": None, "topic": t, "payload": p} for t, p in messages])
    peer_file = peer_config(tmp_path / "tail.json", pki, validate_signatures=True,
                            endpoints={"ci-pipeline": [f"tcp://127.0.0.1:{port}"]})
    bus = open_bus(settings.bus.url)
    with subprocess.Popen([fedmsg_python, str(PEER), "tail", str(peer_file), str(len(messages))],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as tail:
        try:
            deadline = time.monotonic() + 30
            while True:  # the outbox keeps the batch until fedmsg's subscription arrived
                try:
                    assert relay_outbox(store, bus, signer=signer_from_config(settings.bus)) == len(messages)
                    break
                except BusError:
                    assert time.monotonic() < deadline, "fedmsg's consumer never subscribed"
                    time.sleep(0.05)
            out, err = tail.communicate(timeout=30)
        finally:
            tail.kill()
            bus.close()
            store.close()
    seen = [json.loads(line) for line in out.splitlines()]
    assert [line["topic"] for line in seen] == [topic for topic, _ in messages], err
    assert all(line["valid"] for line in seen)
    assert {line["username"] for line in seen} == {getpass.getuser()}  # signed with fedmsg's username


def test_fedmsg_and_we_agree_on_signatures(fedmsg_python: str, pki: FedmsgPKI, config: Config,
                                           tmp_path: Path) -> None:
    """Each verdict of fedmsg.crypto.validate is ours: SHA-1 signatures, changed bodies, the CRL."""
    sha1 = X509Signer.from_files(pki.certificate("ci-pipeline"), pki.key("ci-pipeline"), digest="sha1")
    sha256 = X509Signer.from_files(pki.certificate("ci-pipeline"), pki.key("ci-pipeline"))
    revoked = X509Signer.from_files(pki.certificate("revoked"), pki.key("revoked"), digest="sha1")
    body = {"repo": "vim", "ünïcode": "☃", "nested": {"b": [1, 2.5, None, True], "a": ""}}
    good = sha1.sign(make_envelope("org.centos.prod.ci.pipeline.package.queued", body))
    changed = {**good, "msg": {**good["msg"], "repo": "emacs"}}
    cases = [good, changed, revoked.sign(dict(good)), sha256.sign(dict(good))]
    messages = tmp_path / "messages.json"
    messages.write_text(json.dumps(cases))
    peer_file = peer_config(tmp_path / "validate.json", pki)
    theirs = json.loads(subprocess.run([fedmsg_python, str(PEER), "validate", str(peer_file), str(messages)],
                                       capture_output=True, text=True, check=True).stdout)
    verifier = verifier_from_config(ours(config, pki, "memory://").bus)
    assert verifier is not None

    def accepted(message: dict[str, Any]) -> bool:
        try:
            verifier.verify(message)
            return True
        except SignatureError:
            return False

    # fedmsg knows only SHA-1; with signature_digest = "sha1" we also accept stronger digests.
    assert theirs == [True, False, False, False]
    assert [accepted(message) for message in cases] == [True, False, False, True]


def test_a_stale_crl_refuses_every_signer(pki: FedmsgPKI, tmp_path: Path, config: Config) -> None:
    stale = tmp_path / "stale.pem"
    stale.write_bytes(pki.crl([], days_ago=1))
    settings = ours(config, pki, "memory://")
    verifier = verifier_from_config(settings.bus.model_copy(update={"crl": str(stale)}))
    assert verifier is not None
    signer = signer_from_config(settings.bus)
    assert signer is not None
    with pytest.raises(SignatureError, match="out of date"):
        verifier.verify(signer.sign(make_envelope("org.centos.prod.ci.pipeline.package.queued", {})))
