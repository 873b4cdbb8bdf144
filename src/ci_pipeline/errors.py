"""The one exception tree of ci-pipeline.

::

    CIPipelineError                 root: every error the service raises on purpose
    ├── ConfigError                 a configuration file, key, value or environment variable is wrong
    ├── UsageError                  a command-line argument is wrong
    ├── MessageError                a message breaks the contract
    │   ├── MalformedMessage        not JSON, too large, not an object
    │   ├── UnknownTopic            a topic this service neither sends nor reads
    │   ├── SchemaViolation         JSON that does not match the topic's schema
    │   └── SignatureError          an X.509 signature that is missing, wrong or from an untrusted signer
    ├── BusError                    the bus cannot be reached or used
    ├── StoreError                  the results store cannot be reached or used
    │   ├── StoreUnavailable        a transaction could not finish now (connection, lock): try again
    │   └── NotFound                a run, stage or record that does not exist
    └── StageError                  a pipeline stage could not do its work
        ├── StageFailure            the work itself failed (FAILURE): a test, a build, a checksum
        └── InfrastructureError     the machinery failed (retryable): a tool missing, a host down

Third-party errors are translated at the boundary with ``raise ... from exc``; every message is a
sentence a person can act on.
"""

from collections.abc import Sequence
from typing import Any


class CIPipelineError(Exception):
    """Root of every error ci-pipeline raises on purpose."""


class ConfigError(CIPipelineError):
    """A configuration file, key, value or environment variable is wrong."""


class UsageError(CIPipelineError):
    """A command-line argument is wrong."""


class MessageError(CIPipelineError):
    """A message breaks the contract; the text is the dead-letter reason."""


class MalformedMessage(MessageError):
    """The payload is not JSON, too large, or not a JSON object."""


class UnknownTopic(MessageError):
    """The topic is neither one ci-pipeline sends nor one it reads."""


class SchemaViolation(MessageError):
    """The JSON does not match the schema of its topic."""


class SignatureError(MessageError):
    """The message's X.509 signature is missing, does not match, or its signer is not trusted."""


class BusError(CIPipelineError):
    """The bus cannot be reached or used."""


class StoreError(CIPipelineError):
    """The results store cannot be reached or used."""


class StoreUnavailable(StoreError):
    """A transaction could not finish now (the connection, a lock, a conflict); it may be tried again."""


class NotFound(StoreError):
    """A run, stage or record that does not exist."""


class StageError(CIPipelineError):
    """A pipeline stage could not do its work."""


class StageFailure(StageError):
    """The stage's work failed (status FAILURE): a failing test, build or checksum.

    ``tests`` carries the results of the tests the stage did run (``TestCaseResult``), so a failed
    test stage still reports each test.
    """

    def __init__(self, message: str, *, tests: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.tests = tuple(tests)


class InfrastructureError(StageError):
    """The machinery under a stage failed; the stage may be retried."""
