"""Realistic, deterministic demo users, computations and data assets for the sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from co_mcp.sandbox.records import AssetRecord, ComputationRecord, UserRecord

ALICE_ID = "a11ce000-0000-4000-8000-000000000001"
BOB_ID = "b0b00000-0000-4000-8000-000000000002"
CAROL_ID = "ca401000-0000-4000-8000-000000000003"
ADMIN_ID = "ad000000-0000-4000-8000-000000000004"

PRIMARY_TOKEN = "cop_sandbox_token"
READONLY_TOKEN = "cop_sandbox_readonly"

DEFAULT_USERS: tuple[UserRecord, ...] = (
    UserRecord(ALICE_ID, "alice@example.org", "Alice Liddell", PRIMARY_TOKEN, groups=("genomics",)),
    UserRecord(BOB_ID, "bob@example.org", "Bob Marley", "cop_sandbox_bob", groups=("genomics", "imaging")),
    UserRecord(CAROL_ID, "carol@example.org", "Carol Danvers", "cop_sandbox_carol", groups=("imaging",)),
    UserRecord(ALICE_ID, "alice@example.org", "Alice Liddell", READONLY_TOKEN, scope="read", groups=("genomics",)),
    UserRecord(ADMIN_ID, "admin@example.org", "Sandbox Admin", "cop_sandbox_admin", admin=True),
)

KNOWN_GROUPS: tuple[str, ...] = ("genomics", "imaging", "neuroscience", "ad-group")

DEMO_COMPUTATION_ID = "c0000000-0000-4000-8000-000000000001"
DEMO_FAILED_COMPUTATION_ID = "c0000000-0000-4000-8000-000000000002"
DEMO_CLOUD_WORKSTATION_ID = "c0000000-0000-4000-8000-000000000003"

CUSTOM_METADATA_SCHEMA: dict[str, Any] = {"fields": [], "categories": []}


def with_primary_token(users: Sequence[UserRecord], token: str) -> tuple[UserRecord, ...]:
    """Return ``users`` with alice's write token replaced by ``token``."""
    return tuple(dataclasses.replace(u, token=token) if u.token == PRIMARY_TOKEN else u for u in users)


@dataclass
class DemoData:
    """What ``generate`` produces: assets plus the computations they and users can refer to."""

    assets: list[AssetRecord] = field(default_factory=list)
    computations: list[ComputationRecord] = field(default_factory=list)


def generate(n: int, *, seed: int = 0, users: Sequence[UserRecord] = DEFAULT_USERS, now: int) -> DemoData:
    """Generate ``n`` demo assets (placeholder: filled in shortly)."""
    owner = users[0]
    comps = [ComputationRecord(DEMO_COMPUTATION_ID, owner.id, "capsule", now - 3600)]
    assets = [
        AssetRecord(
            id=f"d0000000-0000-4000-8000-{i:012x}",
            created=now - 86400,
            name=f"Demo asset {i}",
            mount=f"demo_{i}",
            owner_id=owner.id,
            state="ready",
            type="dataset",
            files=3,
            size=1024,
        )
        for i in range(n)
    ]
    return DemoData(assets, comps)
