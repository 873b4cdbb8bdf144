"""Greenwave-compatible gating: policies in Greenwave's YAML form and the decisions they make."""
