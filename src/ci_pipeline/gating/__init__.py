"""Gating: Greenwave-compatible decisions, the waivers they honour, and their changes on the bus."""
