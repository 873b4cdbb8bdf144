"""ci-pipeline: a message-driven CI pipeline for an RPM + OSTree based operating system."""

__version__ = "0.1.0"
