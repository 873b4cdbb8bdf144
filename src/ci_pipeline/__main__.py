"""Allow ``python -m ci_pipeline``."""

from ci_pipeline.cli import main

raise SystemExit(main())
