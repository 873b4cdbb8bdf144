"""Running Standard Test Interface playbooks against test subjects and reading their results."""
