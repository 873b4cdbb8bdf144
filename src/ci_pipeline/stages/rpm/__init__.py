"""Building RPMs from a dist-git spec and publishing them as yum repositories."""
