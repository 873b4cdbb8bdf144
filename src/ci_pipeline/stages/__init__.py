"""The built-in stages: one entry module per stage, the helpers they share in subpackages.

Entry modules (named by :data:`ci_pipeline.engine.definition.BUILTIN_STAGES`): ``build``,
``functional``, ``compose``, ``integration``, ``image``, ``smoke``, ``e2e``. None imports another;
what stages share lives beside them:

- ``base`` (what a stage receives and returns, running a tool), ``tools`` (a stage's deadline,
  capturing a tool's output), ``fields`` (the run's fields, checked before use), ``artifacts``
  (where builds, composes and images live under the artifact root);
- ``git/`` dist-git clones and lookaside sources; ``rpm/`` specs, rpmbuild and yum repositories;
  ``ostree/`` treefiles, the compose's root and its commit; ``sti/`` Standard Test Interface
  playbooks, subjects, suites and results (``roles/`` holds the Ansible roles they use); ``qemu/``
  the boot disk, the initramfs, booting under qemu, consoles and the e2e machines.
"""
