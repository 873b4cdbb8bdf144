"""Configuration: defaults < TOML file < environment.

The file is the first of ``--config FILE``, ``$CI_PIPELINE_CONFIG`` and ``./ci-pipeline.toml`` that
is given (a missing ``./ci-pipeline.toml`` means defaults). Every key may be overridden by an
environment variable named ``CI_PIPELINE_<SECTION>_<KEY>`` (``CI_PIPELINE_BUS_URL``); list values
there are JSON arrays or comma-separated words. Unknown sections or keys and wrongly typed values
are one :class:`~ci_pipeline.errors.ConfigError` naming the key and where it came from.

Reference (defaults keep all state under ``./.ci-pipeline/``)::

    state_dir = ".ci-pipeline"                 # relative paths below are resolved against it

Paths are resolved once, when the configuration is loaded: ``state_dir`` against the working
directory, ``[artifacts] root`` against ``state_dir``, ``[pipeline] file`` against the working
directory when it exists there, else against ``state_dir``; the other file paths (certificate,
private_key, ca, crl, treefile, policy_file) against the working directory. Every user reads the absolute
paths (:attr:`Config.artifact_root` for the artifact root).

    [bus]
    url = "sqlite:///<state_dir>/bus.sqlite"   # sqlite:///PATH, memory://, amqp://, amqps://, zmq://
    topic_prefix = "org.centos"                # dotted lowercase words, at most 150 characters
    environment = "prod"                       # prod | stage
    trigger_topics = [                         # topic globs of the pushes the trigger consumes:
        "org.fedoraproject.prod.git.receive",          # fedmsg's dist-git pushes,
        "org.fedoraproject.prod.git.receive.*",        # their per-repo topics (pkgdb era),
        "org.fedoraproject.prod.pagure.git.receive",   # Pagure's dist-git pushes (today)
    ]                                          # (the default; with environment = "stage", "stg" for "prod")
    trigger_topic = ""                         # the older single-topic key: added to trigger_topics
    subscription = "ci-pipeline-trigger"       # the trigger's durable subscription (an AMQP queue name)
    certificate = ""                           # PEM: sign every message sent (fedmsg x509), with
    private_key = ""                           #   this unencrypted PEM RSA key
    ca = ""                                    # PEM CA: inbound messages must be signed by a cert it issued
    crl = ""                                   # with ca: PEM CRL of that CA (revoked signers refused)
    signature_digest = "sha1"                  # sha1 (fedmsg's) | sha256 | sha384 | sha512: the digest
                                               #   we sign with, and the weakest one we accept
    max_message_age = 86400                    # with ca: refuse a signed message older than this (seconds)
    max_clock_skew = 300                       #   or dated further ahead than this; 0 turns either check off
    routing_policy = {}                        # with ca: topic = ["signer CN", ...], as fedmsg's: a
                                               #   message on a listed topic must be signed by one of them
    routing_nitpicky = false                   #   and with true, a topic not listed is refused
    formats = ["ci-pipeline"]                  # message formats sent: ci-pipeline (always), fedora-ci
                                               # (the CI messages 1.x of every test stage as well)

    [fedora_ci]                                # the CI messages 1.x (bus formats "fedora-ci")
    contact_name = "ci-pipeline"               # contact.name: this CI system
    contact_team = "ci-pipeline"               # contact.team
    contact_docs = ""                          # contact.docs (http(s)); empty = <web base_url>
    contact_email = "ci-pipeline@localhost"    # contact.email
    contact_irc = ""                           # contact.irc, when given
    test_namespace = "ci-pipeline"             # test.namespace (dotted lowercase words)
    build_topics = []                          # topic globs whose messages start a run for an EXISTING
                                               # build: Koji's buildsys.tag / buildsys.build.state.change,
                                               # CI messages 1.x with a koji-build artifact; [] = none
    build_tags = "^(?P<branch>f[0-9]+|epel[0-9]+)(-updates)?(-testing)?-candidate$"
                                               # buildsys.tag: the tags that start a run; a group
                                               # "branch" names the dist-git branch (else the dist tag)
    build_repo_url = ""                        # the yum repo of an existing build's RPMs: file:// or
                                               # http(s):// with {name} {version} {release} {nvr} {arch}

    [store]
    url = "sqlite:///<state_dir>/store.sqlite" # or postgresql://user@host:port/db

    [trigger]
    branches = "^(rawhide|master|f[0-9]+|epel[0-9]+(-next)?|c[0-9]+s)$"   # regex a branch must match
                                               # (fully); ci_pipeline.branches maps each to its release
    namespaces = ["rpms"]
    packages = []                              # source package names the OS is made of
    treefile = ""                              # rpm-ostree treefile whose packages are added

    [pipeline]
    username = "fedora-atomic"
    ci_type = "custom"
    file = ""                                  # TOML pipeline definition; empty = built-in stages
    supersede = true
    rawhide = 27                               # the Fedora release of branches rawhide and master
    arch = "x86_64"                            # letters, digits, . _ -; at most 32 characters

    [executor]
    kind = "local"                             # local | celery
    concurrency = 0                            # 0 = number of cores (local); stages in flight (celery)
    broker = "amqp://guest:guest@127.0.0.1:5672//"    # celery: the workers' broker
    result_backend = "redis://127.0.0.1:6379/0"       # celery: where workers report outcomes

    [web]
    listen = "127.0.0.1:8080"
    base_url = ""                              # public URL; empty = http://<listen>
    token = ""                                 # bearer token for writes; empty = writes refused
    policy_file = ""                           # gating policies, Greenwave YAML form
    gated_packages = []                        # packages opted in to gating (build + functional must pass)
    forward_url = ""                           # forward every result to this ResultsDB API
    forward_token = ""                         # bearer token for forward_url
    max_request_bytes = 10485760               # largest request body (uploads aside); larger is 413
    max_upload_bytes = 4294967296              # largest artifact upload, and largest unpacked tarball

    [webhooks]                                 # POST /api/v1/hooks/{github,gitlab,forgejo,pagure}
    github_secret = ""                         # the hook's secret (X-Hub-Signature-256); empty = refused
    gitlab_token = ""                          # the hook's secret token (X-Gitlab-Token)
    forgejo_secret = ""                        # Forgejo or Gitea hook secret (X-Forgejo/Gitea-Signature)
    pagure_secret = ""                         # the project's web-hook key (X-Pagure-Signature-256)
    namespace = "rpms"                         # dist-git namespace of a GitHub, GitLab or Forgejo push

    [build]
    mock_config = ""                           # build in mock with this config, where mock is installed

    [artifacts]
    root = "<state_dir>/artifacts"
    base_url = ""                              # public URL; empty = <web base_url>/artifacts

    [distgit]
    url = "file://<state_dir>/world/git/{namespace}/{repo}.git"

    [lookaside]
    url = "file://<state_dir>/world/lookaside/{namespace}/{repo}/{filename}/{hashtype}/{hash}/{filename}"

    [provision]                                # machines for the stages that boot (ci_pipeline.provision)
    lease_seconds = 120                        # a machine's lease lasts this long unless its holder renews it
    wait_seconds = 600                         # how long a stage waits for machines other runs hold

    [provision.smoke]                          # the same keys for [provision.integration] and [provision.e2e]
    provisioner = "qemu"                       # qemu | ssh | linchpin | memory
    count = 1                                  # machines (e2e: 3); 1 to 16
    memory = 1024                              # MiB per machine
    cpus = 1
    network = "private"                        # private (the machines reach each other) | none

    [provision.ssh]                            # existing hosts: the run's commit is deployed onto them
    user = "root"                              # defaults of every host below
    key = ""                                   # private key file (required when hosts are listed)
    port = 22
    known_hosts = "<state_dir>/provision/known_hosts"   # host keys, learned on first contact
    connect_timeout = 10                       # seconds per SSH connection attempt
    boot_timeout = 900                         # seconds a host may take to answer (first, and after reboot)
    hosts = [                                  # name (letters, digits, . _ -), address, and optionally
      { name = "lab1", address = "192.0.2.10", private_address = "10.0.0.10" },
    ]                                          # port, user, key, private_address, stateroot (ostree's
                                               # --os; default: the booted one)

    [provision.linchpin]
    command = ""                               # the linchpin program; "" = on PATH, else .venv-linchpin/bin
    workspace = "<state_dir>/linchpin"         # one workspace per stage attempt is made under it
    resource_group_type = "libvirt"            # linch-pin's provider (dummy, libvirt, openstack, aws, ...)
    role = "libvirt_node"                      # the resource definition's role
    user = "root"                              # how its hosts are reached over SSH,
    key = ""                                   #   with this private key
    boot_timeout = 900                         # seconds its hosts may take to answer over SSH
    resource = {}                              # more keys of the resource definition (image_src, flavor...)
    host_vars = {}                             # variables of every host in the inventory layout
                                               # (ansible_host, ansible_port, ansible_user, private_address)
    [e2e]                                      # the e2e stage, in the integration test repository:
    installer = "e2e/install.yml"              # playbook run over SSH against all machines (group nodes)
    conformance = "sh e2e/conformance.sh"      # command run on this host; writes JUnit XML to $E2E_JUNIT
                                               # (how many machines: [provision.e2e] count)
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ci_pipeline.branches import DEFAULT_BRANCHES
from ci_pipeline.errors import ConfigError

ENV_PREFIX = "CI_PIPELINE_"
DEFAULT_FILE = Path("ci-pipeline.toml")
#: A bus topic glob: printable ASCII without spaces, at most 255 characters (a store column's size).
_TOPIC_GLOB = re.compile(r"[!-~]{1,255}")


#: A message format the bus carries: ci-pipeline's own, or the CI messages 1.x.
MessageFormat = Literal["ci-pipeline", "fedora-ci"]


def _legacy_format_only() -> list[MessageFormat]:
    return ["ci-pipeline"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusConfig(_Section):
    """Where messages go and how their topics are spelled."""

    url: str = ""
    # A pipeline topic adds at most 60 characters to the prefix and must fit the store's 255.
    topic_prefix: str = Field(default="org.centos", pattern=r"^[a-z0-9]+(?:\.[a-z0-9]+)*$", max_length=150)
    environment: Literal["prod", "stage"] = "prod"
    trigger_topics: list[str] = Field(default_factory=list)
    # The older single-topic key, kept for existing files: folded into trigger_topics when loaded.
    trigger_topic: str = ""
    subscription: str = Field(default="ci-pipeline-trigger", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
    certificate: str = ""
    private_key: str = ""
    ca: str = ""
    crl: str = ""
    signature_digest: Literal["sha1", "sha256", "sha384", "sha512"] = "sha1"
    max_message_age: int = Field(default=86400, ge=0)
    max_clock_skew: int = Field(default=300, ge=0)
    routing_policy: dict[str, list[str]] = Field(default_factory=dict)
    routing_nitpicky: bool = False
    formats: list[MessageFormat] = Field(default_factory=_legacy_format_only)

    @field_validator("formats")
    @classmethod
    def _legacy_format_kept(cls, value: list[str]) -> list[str]:
        if "ci-pipeline" not in value:
            raise ValueError("'ci-pipeline' must stay among the formats: runs are announced in it")
        return value

    @model_validator(mode="before")
    @classmethod
    def _fold_trigger_topics(cls, data: Any) -> Any:
        # On the raw values: the defaults follow the environment only when no list is given, and
        # the older key adds its topic to whichever list applies.
        if not isinstance(data, dict):
            return data
        folded = dict(data)
        topics = folded.get("trigger_topics")
        if topics is None:
            environment = folded.get("environment", "prod")
            topics = default_trigger_topics(environment if isinstance(environment, str) else "prod")
        older = folded.get("trigger_topic")
        if isinstance(topics, list) and isinstance(older, str) and older and older not in topics:
            topics = [*topics, older]
        folded["trigger_topics"] = topics
        return folded

    @field_validator("trigger_topics")
    @classmethod
    def _topic_globs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one topic is needed, or the trigger would hear no push")
        for topic in value:
            if not _TOPIC_GLOB.fullmatch(topic):
                raise ValueError(f"{topic[:80]!r} is not a topic glob of at most 255 printable characters")
        return value


def default_trigger_topics(environment: str) -> list[str]:
    """The dist-git push topics of Fedora's environment matching ours (``stage`` hears ``stg``)."""
    fedora = "stg" if environment == "stage" else "prod"
    return [
        f"org.fedoraproject.{fedora}.git.receive",
        f"org.fedoraproject.{fedora}.git.receive.*",
        f"org.fedoraproject.{fedora}.pagure.git.receive",
    ]


class FedoraCiConfig(_Section):
    """What the CI messages 1.x say about this CI system."""

    contact_name: str = Field(default="ci-pipeline", min_length=1, max_length=200)
    contact_team: str = Field(default="ci-pipeline", min_length=1, max_length=200)
    contact_docs: str = Field(default="", pattern=r"^(https?://\S{1,2000})?$")
    contact_email: str = Field(default="ci-pipeline@localhost", pattern=r"^[^@\s]{1,200}@[^@\s]{1,200}$")
    contact_irc: str = Field(default="", max_length=200)
    test_namespace: str = Field(
        default="ci-pipeline", pattern=r"^[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*$", max_length=100
    )
    build_topics: list[str] = Field(default_factory=list)
    build_tags: str = "^(?P<branch>f[0-9]+|epel[0-9]+)(-updates)?(-testing)?-candidate$"
    build_repo_url: str = Field(default="", pattern=r"^((file|https?)://[^\s]{1,1000})?$")

    @field_validator("build_topics")
    @classmethod
    def _build_topic_globs(cls, value: list[str]) -> list[str]:
        for topic in value:
            if not _TOPIC_GLOB.fullmatch(topic):
                raise ValueError(f"{topic[:80]!r} is not a topic glob of at most 255 printable characters")
        return value

    @field_validator("build_tags")
    @classmethod
    def _tags_compile(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from exc
        return value

    @field_validator("build_repo_url")
    @classmethod
    def _repo_template(cls, value: str) -> str:
        try:
            value.format(name="n", version="v", release="r", nvr="n-v-r", arch="a")
        except (KeyError, IndexError, ValueError) as exc:
            names = "{name} {version} {release} {nvr} {arch}"
            raise ValueError(f"may use only {names}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _builds_need_their_rpms(self) -> FedoraCiConfig:
        if self.build_topics and not self.build_repo_url:
            raise ValueError("build_topics needs build_repo_url: where the existing builds' RPMs are")
        return self


class StoreConfig(_Section):
    """The results store ("datahub")."""

    url: str = ""


class TriggerConfig(_Section):
    """Which pushes belong to the tracked OS."""

    branches: str = DEFAULT_BRANCHES
    namespaces: list[str] = Field(default_factory=lambda: ["rpms"])
    packages: list[str] = Field(default_factory=list)
    treefile: str = ""

    @field_validator("branches")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class PipelineConfig(_Section):
    """How runs are named and which stages they go through."""

    username: str = "fedora-atomic"
    ci_type: str = "custom"
    file: str = ""
    supersede: bool = True
    rawhide: int = 27
    # Part of every run's OSTree ref (fedora/<branch>/<arch>/atomic-host), which the schemas bound.
    arch: str = Field(default="x86_64", pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$")


class ExecutorConfig(_Section):
    """Where stage work runs."""

    kind: Literal["local", "celery"] = "local"
    concurrency: int = Field(default=0, ge=0)
    broker: str = "amqp://guest:guest@127.0.0.1:5672//"
    result_backend: str = "redis://127.0.0.1:6379/0"


class WebConfig(_Section):
    """The REST API and dashboard."""

    listen: str = "127.0.0.1:8080"
    base_url: str = ""
    token: str = ""
    policy_file: str = ""
    gated_packages: list[str] = Field(default_factory=list)
    forward_url: str = ""
    forward_token: str = ""
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_upload_bytes: int = Field(default=4 * 1024 * 1024 * 1024, ge=1)


class WebhooksConfig(_Section):
    """Forge webhooks: each forge's secret (empty refuses its hooks) and the namespace of its pushes."""

    github_secret: str = ""
    gitlab_token: str = ""
    forgejo_secret: str = ""
    pagure_secret: str = ""
    namespace: str = Field(default="rpms", pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


class BuildConfig(_Section):
    """How packages are built."""

    mock_config: str = ""


class ArtifactsConfig(_Section):
    """Where stage outputs are kept and the URL they are served under."""

    root: str = ""
    base_url: str = ""


class DistGitConfig(_Section):
    """Template of a dist-git repository URL."""

    url: str = ""


class LookasideConfig(_Section):
    """Template of a lookaside cache URL (Fedora form)."""

    url: str = ""


#: How many machines the e2e stage boots unless told otherwise: a small cluster.
E2E_MACHINES = 3
#: A machine name in an inventory or a provisioner's output: one word of a host name.
MACHINE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
#: A host address: a DNS name, an IPv4 address, or an IPv6 address (no brackets).
HOST_ADDRESS = r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$"


class StageMachinesConfig(_Section):
    """Which provisioner gives a stage its machines, and the topology it asks for."""

    provisioner: Literal["qemu", "ssh", "linchpin", "memory"] = "qemu"
    count: int = Field(default=1, ge=1, le=16)
    memory: int = Field(default=1024, ge=128, le=1024 * 1024)
    cpus: int = Field(default=1, ge=1, le=256)
    network: Literal["private", "none"] = "private"


class SSHHostConfig(_Section):
    """One existing host of the ``ssh`` provisioner's inventory."""

    name: str = Field(pattern=MACHINE_NAME)
    address: str = Field(pattern=HOST_ADDRESS)
    port: int = Field(default=0, ge=0, le=65535)  # 0: [provision.ssh] port
    user: str = Field(default="", pattern=r"^([a-z_][a-z0-9_.-]{0,31})?$")
    key: str = ""
    private_address: str = Field(default="", pattern=r"^([A-Za-z0-9][A-Za-z0-9.:_-]{0,252})?$")
    stateroot: str = Field(default="", pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,62})?$")


class SSHProvisionConfig(_Section):
    """The ``ssh`` provisioner: an inventory of existing hosts, each leased to one run at a time."""

    user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")
    key: str = ""
    port: int = Field(default=22, ge=1, le=65535)
    known_hosts: str = ""
    connect_timeout: int = Field(default=10, ge=1)
    boot_timeout: int = Field(default=900, ge=1)
    hosts: list[SSHHostConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _usable_inventory(self) -> SSHProvisionConfig:
        names = [host.name for host in self.hosts]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"the host name {repeated[0]!r} is listed more than once")
        keyless = [host.name for host in self.hosts if not (host.key or self.key)]
        if keyless:
            raise ValueError(f"the host {keyless[0]!r} has no key, and no default key is set")
        return self


class LinchpinProvisionConfig(_Section):
    """The ``linchpin`` provisioner: a PinFile per stage attempt, ``linchpin up`` and ``destroy``."""

    command: str = ""
    workspace: str = ""
    resource_group_type: str = Field(default="libvirt", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    role: str = Field(default="libvirt_node", pattern=r"^[a-z][a-z0-9_]{0,63}$")
    user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")
    key: str = ""
    boot_timeout: int = Field(default=900, ge=1)
    resource: dict[str, Any] = Field(default_factory=dict)
    host_vars: dict[str, str] = Field(default_factory=dict)


class ProvisionConfig(_Section):
    """Where the smoke, integration and e2e stages get their machines."""

    lease_seconds: int = Field(default=120, ge=5)
    wait_seconds: int = Field(default=600, ge=0)
    smoke: StageMachinesConfig = Field(default_factory=StageMachinesConfig)
    integration: StageMachinesConfig = Field(default_factory=StageMachinesConfig)
    e2e: StageMachinesConfig = Field(default_factory=lambda: StageMachinesConfig(count=E2E_MACHINES))
    ssh: SSHProvisionConfig = Field(default_factory=SSHProvisionConfig)
    linchpin: LinchpinProvisionConfig = Field(default_factory=LinchpinProvisionConfig)

    @model_validator(mode="before")
    @classmethod
    def _e2e_cluster(cls, data: Any) -> Any:
        # e2e's own default count (a cluster) holds when its table names another key only.
        if isinstance(data, dict) and isinstance(data.get("e2e"), dict) and "count" not in data["e2e"]:
            return {**data, "e2e": {**data["e2e"], "count": E2E_MACHINES}}
        return data

    @model_validator(mode="after")
    def _inventory_suffices(self) -> ProvisionConfig:
        for stage in ("smoke", "integration", "e2e"):
            wanted: StageMachinesConfig = getattr(self, stage)
            if wanted.provisioner == "ssh" and wanted.count > len(self.ssh.hosts):
                raise ValueError(
                    f"the {stage} stage asks for {wanted.count} machines of the ssh provisioner, but "
                    f"[provision.ssh] hosts lists {len(self.ssh.hosts)}"
                )
        return self


class E2EConfig(_Section):
    """The e2e stage: its installer playbook and its conformance command (machines: ``[provision.e2e]``)."""

    installer: str = "e2e/install.yml"
    conformance: str = "sh e2e/conformance.sh"


class Config(_Section):
    """The whole configuration, typed; pass the sections into constructors."""

    state_dir: str = ".ci-pipeline"
    bus: BusConfig = Field(default_factory=BusConfig)
    fedora_ci: FedoraCiConfig = Field(default_factory=FedoraCiConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)
    distgit: DistGitConfig = Field(default_factory=DistGitConfig)
    lookaside: LookasideConfig = Field(default_factory=LookasideConfig)
    provision: ProvisionConfig = Field(default_factory=ProvisionConfig)
    e2e: E2EConfig = Field(default_factory=E2EConfig)

    @property
    def state_path(self) -> Path:
        """The state directory as an absolute path."""
        return Path(self.state_dir).resolve()

    @property
    def artifact_root(self) -> Path:
        """The artifact root as an absolute path (a relative one is under the state directory)."""
        return under_state(self.state_path, self.artifacts.root or "artifacts")

    @property
    def web_base_url(self) -> str:
        """The public URL of the web service, without a trailing slash."""
        return (self.web.base_url or f"http://{self.web.listen}").rstrip("/")

    @property
    def artifacts_base_url(self) -> str:
        """The public URL of the artifact root, without a trailing slash."""
        return (self.artifacts.base_url or f"{self.web_base_url}/artifacts").rstrip("/")


def under_state(state: Path, value: str) -> Path:
    """``value`` as an absolute path: a relative one is under the state directory ``state``."""
    path = Path(value)
    return path if path.is_absolute() else state / path


def _absolute(value: str) -> str:
    return str(Path(value).resolve()) if value else value


def pipeline_file_at(state: Path, value: str) -> str:
    """The pipeline file ``value``, absolute: the working directory's, else one under ``state``."""
    if not value:
        return value
    path = Path(value)
    if path.is_absolute():
        return value
    return str(path.resolve() if path.exists() else state / path)


def _resolve_paths(config: Config) -> Config:
    """The configuration with its defaults filled in and every path made absolute, once."""
    state = config.state_path
    template = "{namespace}/{repo}/{filename}/{hashtype}/{hash}/{filename}"
    bus = config.bus
    return config.model_copy(
        update={
            "state_dir": str(state),
            "bus": bus.model_copy(
                update={
                    "url": bus.url or f"sqlite:///{state}/bus.sqlite",
                    "certificate": _absolute(bus.certificate),
                    "private_key": _absolute(bus.private_key),
                    "ca": _absolute(bus.ca),
                    "crl": _absolute(bus.crl),
                }
            ),
            "store": config.store.model_copy(
                update={"url": config.store.url or f"sqlite:///{state}/store.sqlite"}
            ),
            "trigger": config.trigger.model_copy(update={"treefile": _absolute(config.trigger.treefile)}),
            "pipeline": config.pipeline.model_copy(
                update={"file": pipeline_file_at(state, config.pipeline.file)}
            ),
            "web": config.web.model_copy(update={"policy_file": _absolute(config.web.policy_file)}),
            "artifacts": config.artifacts.model_copy(update={"root": str(config.artifact_root)}),
            "distgit": config.distgit.model_copy(
                update={"url": config.distgit.url or f"file://{state}/world/git/{{namespace}}/{{repo}}.git"}
            ),
            "lookaside": config.lookaside.model_copy(
                update={"url": config.lookaside.url or f"file://{state}/world/lookaside/{template}"}
            ),
            "provision": _resolve_provision_paths(config.provision, state),
        }
    )


def _resolve_provision_paths(provision: ProvisionConfig, state: Path) -> ProvisionConfig:
    """``[provision]`` with its key files absolute and its state files under ``state``."""
    ssh, linchpin = provision.ssh, provision.linchpin
    hosts = [host.model_copy(update={"key": _absolute(host.key)}) for host in ssh.hosts]
    return provision.model_copy(
        update={
            "ssh": ssh.model_copy(
                update={
                    "key": _absolute(ssh.key),
                    "known_hosts": str(under_state(state, ssh.known_hosts or "provision/known_hosts")),
                    "hosts": hosts,
                }
            ),
            "linchpin": linchpin.model_copy(
                update={
                    "key": _absolute(linchpin.key),
                    "workspace": str(under_state(state, linchpin.workspace or "linchpin")),
                }
            ),
        }
    )


def read_toml(path: Path, what: str = "configuration file") -> dict[str, Any]:
    """The TOML file ``path``; a missing, unreadable or invalid one is a ConfigError naming ``what``."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"The {what} {path} does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The {what} {path} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"The {what} {path} cannot be read: {exc}.") from exc


def _env_value(raw: str, annotation: Any) -> Any:
    if "list" in str(annotation):
        stripped = raw.strip()
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return raw
        return [word.strip() for word in stripped.split(",") if word.strip()]
    return raw


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    sections = {
        name: field.annotation
        for name, field in Config.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "CI_PIPELINE_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key == "state_dir":
            overrides["state_dir"] = raw
            continue
        section = next((s for s in sections if key.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"The environment variable {name} names no configuration key.")
        field_name = key[len(section) + 1 :]
        model = sections[section]
        assert model is not None
        fields = model.model_fields
        if field_name not in fields:
            raise ConfigError(f"The environment variable {name} names no configuration key.")
        value = _env_value(raw, fields[field_name].annotation)
        overrides.setdefault(section, {})[field_name] = value
    return overrides


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"Unknown configuration key '{key}' in {source}."
    return f"Configuration key '{key}' in {source} is wrong: {first['msg']}."


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Load the configuration: defaults, then the TOML file, then the environment."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get("CI_PIPELINE_CONFIG") or None
    data: dict[str, Any] = {}
    source = "the defaults"
    if chosen:
        data = read_toml(Path(chosen))
        source = str(chosen)
    elif DEFAULT_FILE.exists():
        data = read_toml(DEFAULT_FILE)
        source = str(DEFAULT_FILE)
    try:
        file_config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc
    overrides = _environment_overrides(environ)
    if not overrides:
        return _resolve_paths(file_config)
    try:
        config = Config.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "the environment")) from exc
    return _resolve_paths(config)
