"""Entry point for ``python -m co_mcp``."""

from __future__ import annotations

from co_mcp.cli import main

raise SystemExit(main())
