"""``python -m rightsizing_loadtest``: same as ``python -m rightsizing_loadtest.task``."""

from __future__ import annotations

import sys

from rightsizing_loadtest.task import main

sys.exit(main())
