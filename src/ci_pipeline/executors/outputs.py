"""Stage outputs handed on as ``KEY=VALUE`` lines in the file named by ``$CI_PIPELINE_OUTPUTS``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ci_pipeline.errors import StageFailure

OUTPUT_KEY = re.compile(r"^[a-z_][a-z0-9_-]*$")
#: The largest outputs file read; anything bigger is a stage mistake, not data to carry in messages.
MAX_OUTPUTS_BYTES = 64 * 1024
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def parse_outputs(text: str) -> dict[str, str]:
    """The outputs in ``text``: keys lower-cased and checked; blank and ``#`` lines ignored."""
    outputs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or not OUTPUT_KEY.match(key):
            raise StageFailure(
                f"Line {number} of the stage's outputs file is not KEY=VALUE with a key of "
                f"letters, digits, '_' and '-': {line[:80]!r}."
            )
        outputs[key] = value
    return outputs


def read_outputs(path: Path) -> dict[str, str]:
    """The outputs a stage wrote to ``path``; none when it wrote no file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return {}
    if size > MAX_OUTPUTS_BYTES:
        raise StageFailure(f"The stage's outputs file is {size} bytes; at most {MAX_OUTPUTS_BYTES} are read.")
    return parse_outputs(path.read_bytes().decode("utf-8", "replace"))


def env_name(field: str) -> str:
    """The environment variable of a run field: upper-cased, ``-`` and ``.`` become ``_``."""
    return field.upper().replace("-", "_").replace(".", "_")


def fields_environment(fields: Mapping[str, str]) -> dict[str, str]:
    """The run's fields as environment variables; names that cannot be variables are left out."""
    environment: dict[str, str] = {}
    for field, value in fields.items():
        name = env_name(field)
        if _ENV_NAME.match(name) and "\0" not in str(value):
            environment[name] = str(value)
    return environment
