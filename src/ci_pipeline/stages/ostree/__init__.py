"""Composing an OS tree from RPMs and committing it to an OSTree repository."""
