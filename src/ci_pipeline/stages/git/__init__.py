"""Fetching a package's dist-git repository and its lookaside sources."""
