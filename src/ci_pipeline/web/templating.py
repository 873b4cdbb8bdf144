"""The dashboard's Jinja templates with the helpers every page uses (status classes, durations)."""

from __future__ import annotations

from importlib import resources

from fastapi.templating import Jinja2Templates

from ci_pipeline.web.loglines import FAILING_LINE, is_failing_line

templates = Jinja2Templates(directory=str(resources.files("ci_pipeline.web").joinpath("templates")))


def chip_class(state: str | None, status: str | None) -> str:
    """The CSS class of a stage or run: its status once complete, else its state."""
    if state == "complete":
        return {"SUCCESS": "success", "FAILURE": "failure", "ABORTED": "aborted"}.get(status or "", "aborted")
    return state or "pending"


def duration(value: float | None) -> str:
    """Seconds as ``1m 05s`` or ``4.2s``; nothing for None."""
    if value is None:
        return ""
    minutes, secs = divmod(round(value), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{value:.1f}s"


def percent(value: float | None) -> str:
    """A share as a whole percentage; a dash for None."""
    return "—" if value is None else f"{value * 100:.0f}%"


templates.env.globals["chip_class"] = chip_class
templates.env.globals["failing_pattern"] = FAILING_LINE
templates.env.tests["failing"] = is_failing_line
templates.env.filters["duration"] = duration
templates.env.filters["percent"] = percent
