"""The bundled example OS: packages, dist-git, lookaside cache, base repo and treefile.

Start with :func:`ci_pipeline.example.world.create_world`; its module docstring describes the layout
and the boot protocol.
"""
