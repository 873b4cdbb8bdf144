"""Read a message that announces an existing Koji build into an :class:`ExistingBuild`.

Three forms start a run for a build someone else made (``[fedora_ci] build_topics``), each a fedmsg
envelope, a fedora-messaging dump ``{"topic", "body"}`` or a bare body on the delivered topic:

* Koji's ``<prefix>.buildsys.tag``: ``{build_id, name, version, release, tag, owner}``; the build
  was tagged, and only tags matching ``build_tags`` start a run;
* Koji's ``<prefix>.buildsys.build.state.change``: ``{build_id, task_id, name, version, release,
  owner, new}``; only ``new`` = 1 (COMPLETE) starts a run;
* a CI messages 1.x ``<prefix>.ci.koji-build.*`` message: its ``artifact`` (``id`` = task id,
  ``component``, ``nvr``, ``issuer``, ``scratch``, ``source``), for example a rebuild request. A
  message whose ``contact.name`` is this system's own is never taken: it announces our own test.

Everything read is checked here before it may reach a path, a URL or a subprocess: a malformed
message is a MessageError (dead-lettered with the reason); a well-formed message that asks for no
run is :class:`NotForUs`, which the trigger logs and acknowledges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.errors import MalformedMessage, SchemaViolation
from ci_pipeline.messages.envelope import decode
from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX, load_schema
from ci_pipeline.messages.push import DEFAULT_NAMESPACE, GitPush
from ci_pipeline.messages.quoting import quote_value

#: The name rule of a package is the dist-git push schema's (one owner).
_NAME = re.compile(load_schema(GIT_RECEIVE_SUFFIX)["properties"]["commit"]["properties"]["repo"]["pattern"])
_VERSION = re.compile(r"[A-Za-z0-9._+~^]{1,100}")
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@/+-]{0,99}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_SOURCE_COMMIT = re.compile(r"#([0-9a-f]{40})$")
KOJI_COMPLETE = 1


class NotForUs(Exception):
    """A valid message that asks for no run (another tag, a build not complete, our own message)."""


class Origin:
    """Which kind of message announced the build."""

    TAG = "buildsys.tag"
    STATE_CHANGE = "buildsys.build.state.change"
    CI = "ci.koji-build"


@dataclass(frozen=True)
class ExistingBuild:
    """A build made elsewhere, every field checked: what a run for it needs."""

    name: str
    version: str
    release: str
    origin: str
    build_id: int | None = None
    task_id: int | None = None
    owner: str = ""
    scratch: bool = False
    tag: str = ""
    #: The dist-git branch, when the message tells it (from the tag); else from the dist tag.
    branch: str = ""
    #: The dist-git commit the build came from, when the message says.
    rev: str = ""
    msg_id: str = ""

    @property
    def nvr(self) -> str:
        """name-version-release."""
        return f"{self.name}-{self.version}-{self.release}"

    def fields(self, config: Config) -> dict[str, str]:
        """The run fields that stand for the build stage's outputs: NVR, its RPMs' repository, Koji ids."""
        values = {"name": self.name, "version": self.version, "release": self.release, "nvr": self.nvr,
                  "arch": config.pipeline.arch}
        repo_url = config.fedora_ci.build_repo_url.format(**values)
        fields = {
            "nvr": self.nvr,
            "original_spec_nvr": self.nvr,
            "build_repo_url": repo_url,
            "package_url": repo_url,
            # The binary package named like its source: the one every build has (a local repo gives all).
            "rpms": self.name,
            "koji_owner": self.owner,
            "koji_scratch": "true" if self.scratch else "false",
        }
        if self.build_id is not None:
            fields["koji_build_id"] = str(self.build_id)
        if self.task_id is not None:
            fields["koji_task_id"] = str(self.task_id)
        return fields


@dataclass(frozen=True, slots=True)
class BuildPush(GitPush):
    """The change an existing build came from, as the trigger decides changes, with the build."""

    build: ExistingBuild | None = None


def build_push(build: ExistingBuild, branch: str, rev: str) -> BuildPush:
    """The change of ``build``: its package's dist-git ``branch`` at ``rev``."""
    return BuildPush(
        repo=build.name, rev=rev, branch=branch, namespace=DEFAULT_NAMESPACE, username=build.owner,
        msg_id=build.msg_id, topic=build.origin, build=build,
    )


def parse_build_message(payload: bytes, delivered_topic: str, config: Config) -> ExistingBuild:
    """The build a message announces; MessageError when malformed, NotForUs when it asks for no run."""
    document = decode(payload)
    topic, body, msg_id = _unwrap(document, delivered_topic)
    if not isinstance(body, Mapping):
        raise MalformedMessage("The message body is not a JSON object.")
    if topic.endswith("." + Origin.TAG):
        return _from_tag(body, config, msg_id)
    if topic.endswith("." + Origin.STATE_CHANGE):
        return _from_state_change(body, msg_id)
    if f".{Origin.CI}." in topic:
        return _from_ci(body, config, msg_id)
    raise SchemaViolation(f"The topic {quote_value(topic)} announces no Koji build ci-pipeline reads.")


def _unwrap(document: Mapping[str, Any], delivered_topic: str) -> tuple[str, Any, str]:
    if "msg" in document:
        topic, body, msg_id = document.get("topic"), document["msg"], document.get("msg_id")
    elif "body" in document and "topic" in document:
        topic, body, msg_id = document.get("topic"), document["body"], document.get("id")
    else:
        topic, body, msg_id = delivered_topic, document, ""
    if not isinstance(topic, str) or not topic:
        topic = delivered_topic
    return topic, body, str(msg_id or "")[:100]


def _from_tag(body: Mapping[str, Any], config: Config, msg_id: str) -> ExistingBuild:
    tag = _text(body, "tag", _TAG, "a Koji tag name")
    matched = re.search(config.fedora_ci.build_tags, tag)
    if matched is None:
        raise NotForUs(f"The tag {tag} does not match build_tags.")
    branch = matched.groupdict().get("branch") or ""
    return ExistingBuild(
        *_nvr_parts(body), Origin.TAG, build_id=_positive(body, "build_id"),
        owner=_text(body, "owner", _OWNER, "a user name", required=False), tag=tag, branch=branch,
        msg_id=msg_id,
    )


def _from_state_change(body: Mapping[str, Any], msg_id: str) -> ExistingBuild:
    new = body.get("new")
    if not isinstance(new, int) or isinstance(new, bool):
        raise SchemaViolation("Field 'new' must be an integer (the build's new Koji state).")
    if new != KOJI_COMPLETE:
        raise NotForUs(f"The build's new state is {new}, not COMPLETE.")
    task = body.get("task_id")
    return ExistingBuild(
        *_nvr_parts(body), Origin.STATE_CHANGE, build_id=_positive(body, "build_id"),
        task_id=None if task is None else _positive(body, "task_id"),
        owner=_text(body, "owner", _OWNER, "a user name", required=False), msg_id=msg_id,
    )


def _from_ci(body: Mapping[str, Any], config: Config, msg_id: str) -> ExistingBuild:
    contact = body.get("contact")
    if isinstance(contact, Mapping) and contact.get("name") == config.fedora_ci.contact_name:
        raise NotForUs("The message is this system's own.")
    artifact = body.get("artifact")
    if not isinstance(artifact, Mapping) or artifact.get("type") != "koji-build":
        raise SchemaViolation("Field 'artifact' must be a koji-build artifact.")
    nvr = _text(artifact, "nvr", re.compile(r"[^\s]{5,300}"), "a name-version-release")
    name, version, release = [*nvr.rsplit("-", 2), "", ""][:3]
    component = _text(artifact, "component", _NAME, "a package name", required=False)
    if component and component != name:
        raise SchemaViolation(f"Field 'artifact.component' {quote_value(component)} is not the NVR's name.")
    source = artifact.get("source")
    found = _SOURCE_COMMIT.search(source) if isinstance(source, str) else None
    scratch = artifact.get("scratch", False)
    if not isinstance(scratch, bool):
        raise SchemaViolation("Field 'artifact.scratch' must be true or false.")
    return ExistingBuild(
        *_nvr_parts({"name": name, "version": version, "release": release}), Origin.CI,
        task_id=_positive(artifact, "id"),
        owner=_text(artifact, "issuer", _OWNER, "a user name", required=False),
        scratch=scratch, rev=found.group(1) if found else "", msg_id=msg_id,
    )


def _nvr_parts(body: Mapping[str, Any]) -> tuple[str, str, str]:
    name = _text(body, "name", _NAME, "a package name")
    version = _text(body, "version", _VERSION, "a version of letters, digits and . _ + ~ ^")
    release = _text(body, "release", _VERSION, "a release of letters, digits and . _ + ~ ^")
    return name, version, release


def _text(
    body: Mapping[str, Any], field: str, rule: re.Pattern[str], what: str, required: bool = True
) -> str:
    value = body.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not rule.fullmatch(value.removesuffix("\n")) or value.endswith("\n"):
        raise SchemaViolation(f"Field {quote_value(field)} must be {what}.")
    return value


def _positive(body: Mapping[str, Any], field: str) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**53:
        raise SchemaViolation(f"Field {quote_value(field)} must be a positive integer (a Koji id).")
    return value
