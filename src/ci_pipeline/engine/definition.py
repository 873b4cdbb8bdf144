"""The pipeline definition: which stages a run goes through, in which order, and how each runs.

The default is the seed's order with the built-in stages. A pipeline file (``[pipeline] file``)
overrides it with one ``[[stage]]`` table per stage, run in the order listed::

    [[stage]]
    name = "build"            # build | functional | compose | integration | image | smoke | e2e
    run = "make rpm"          # optional: a bash command instead of the built-in implementation
    timeout = 3600            # seconds; 0 = no limit
    retries = 1               # retries after an infrastructure failure (exit status 75 for commands)
    enabled = true            # a disabled stage is skipped and the pipeline goes on

    [[stage]]
    name = "image"
    interval = 86400          # image only: seconds between images of a branch; 0 = every run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ci_pipeline.config import Config, pipeline_file_at, read_toml
from ci_pipeline.errors import ConfigError
from ci_pipeline.messages.topics import STAGE_ORDER, Stage

#: The built-in implementation of each stage, imported when the stage runs.
BUILTIN_STAGES: dict[Stage, str] = {
    Stage.BUILD: "ci_pipeline.stages.build:run",
    Stage.FUNCTIONAL: "ci_pipeline.stages.functional:run_functional",
    Stage.COMPOSE: "ci_pipeline.stages.compose:run",
    Stage.INTEGRATION: "ci_pipeline.stages.integration:run_integration",
    Stage.IMAGE: "ci_pipeline.stages.image:run",
    Stage.SMOKE: "ci_pipeline.stages.smoke:run",
    Stage.E2E: "ci_pipeline.stages.e2e:run",
}

#: Stages that share per-branch state: at most one of each runs per branch at once.
BRANCH_LOCKED: frozenset[Stage] = frozenset({Stage.COMPOSE, Stage.IMAGE})

#: Stages that need the image the image stage makes: skipped with it when it is not due.
NEEDS_IMAGE: frozenset[Stage] = frozenset({Stage.IMAGE, Stage.SMOKE, Stage.E2E})

DEFAULT_IMAGE_INTERVAL = 86400.0


@dataclass(frozen=True)
class StageSpec:
    """How one stage runs: a bash command, or else its built-in implementation."""

    name: Stage
    command: str | None = None
    timeout: float | None = None
    retries: int = 0
    enabled: bool = True
    interval: float = DEFAULT_IMAGE_INTERVAL

    @property
    def implementation(self) -> str:
        """The ``module:function`` of the built-in implementation."""
        return BUILTIN_STAGES[self.name]


@dataclass(frozen=True)
class PipelineDefinition:
    """The stages of a pipeline, in the order they run."""

    stages: tuple[StageSpec, ...]

    def spec(self, name: str) -> StageSpec:
        """The spec of the stage called ``name``."""
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The stage names in order."""
        return tuple(str(spec.name) for spec in self.stages)


class _StageTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Stage
    run: str | None = Field(default=None, min_length=1)
    timeout: float = Field(default=0, ge=0)
    retries: int = Field(default=0, ge=0, le=10)
    enabled: bool = True
    interval: float | None = Field(default=None, ge=0)


class _PipelineFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: list[_StageTable] = Field(min_length=1)


def default_pipeline() -> PipelineDefinition:
    """The seed's pipeline: every stage with its built-in implementation."""
    return PipelineDefinition(tuple(StageSpec(name=stage) for stage in STAGE_ORDER))


def _describe(error: ValidationError, path: Path, data: dict[str, Any]) -> str:
    errors = error.errors()
    # An unknown key is most often a misspelt one: name it before the "missing" it causes.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = list(first["loc"])
    key = ".".join(str(part) for part in loc)
    if loc[:1] == ["stage"] and len(loc) >= 2 and isinstance(loc[1], int):
        stages = data.get("stage", [])
        index = loc[1]
        name = stages[index].get("name", "?") if isinstance(stages[index], dict) else "?"
        key = f"stage {index + 1} ({name})" + (f" key '{loc[2]}'" if len(loc) > 2 else "")
    if first["type"] == "extra_forbidden":
        return f"The pipeline file {path} has an unknown {key}."
    return f"The pipeline file {path} is wrong at {key}: {first['msg']}."


def _to_spec(table: _StageTable, path: Path) -> StageSpec:
    if table.interval is not None and table.name != Stage.IMAGE:
        raise ConfigError(
            f"The pipeline file {path} gives stage '{table.name}' the key 'interval'; only image has one."
        )
    return StageSpec(
        name=table.name,
        command=table.run,
        timeout=table.timeout or None,
        retries=table.retries,
        enabled=table.enabled,
        interval=DEFAULT_IMAGE_INTERVAL if table.interval is None else table.interval,
    )


def load_pipeline(path: str | Path) -> PipelineDefinition:
    """Read a TOML pipeline file; any mistake is one ConfigError naming the file and the key."""
    path = Path(path)
    data = read_toml(path, "pipeline file")
    try:
        parsed = _PipelineFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, data)) from exc
    specs = tuple(_to_spec(table, path) for table in parsed.stage)
    seen: set[Stage] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(f"The pipeline file {path} lists stage '{spec.name}' twice.")
        seen.add(spec.name)
    return PipelineDefinition(specs)


def pipeline_for(config: Config) -> PipelineDefinition:
    """The pipeline the configuration names: its pipeline file, else the default."""
    if not config.pipeline.file:
        return default_pipeline()
    return load_pipeline(pipeline_file_at(config.state_path, config.pipeline.file))
