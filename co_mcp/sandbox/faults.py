"""Fault injection for the sandbox: errors, latency, dropped connections (off by default)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def operation_for(method: str, path: str) -> str | None:
    """Placeholder classification."""
    return None


class FaultPlan:
    """Placeholder: injects nothing."""

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        return cls()


class FaultInjector:
    """ASGI middleware applying a FaultPlan (placeholder: pass-through)."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
