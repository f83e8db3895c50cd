"""The sandbox: a faithful, SQLite-backed emulator of the Code Ocean data-asset REST API.

DOCSTRING-PLACEHOLDER
"""

from __future__ import annotations

import secrets
import time
from types import MappingProxyType
from typing import TYPE_CHECKING

from co_mcp.sandbox import demo_data, files
from co_mcp.sandbox.app import Api, build_app
from co_mcp.sandbox.faults import FaultInjector, FaultPlan
from co_mcp.sandbox.requestlog import LoggedRequest, RequestLog
from co_mcp.sandbox.store import Store

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from co_mcp.sandbox.records import UserRecord

__all__ = ["DEFAULT_TOKEN", "FaultPlan", "LoggedRequest", "RequestLog", "Sandbox", "Store", "user_names"]

DEFAULT_TOKEN = demo_data.PRIMARY_TOKEN


def user_names(users: tuple[UserRecord, ...]) -> dict[str, UserRecord]:
    """Short names for users: the e-mail's local part, plus ``_readonly`` for a read-scope token."""
    named: dict[str, UserRecord] = {}
    for user in users:
        name = user.email.split("@", 1)[0].lower()
        if user.scope == "read":
            name += "_readonly"
        while name in named:
            name += "_"
        named[name] = user
    return named


class Sandbox:
    """A complete sandbox: store, API app, fault plan and request log, ready to serve.

    ``db_path`` None keeps the data in memory; a file that already holds assets is reused as it is
    (no demo data is added). ``assets`` demo assets are generated from ``seed`` otherwise.
    ``ready_delay`` is how long a new asset stays ``draft``. ``faults`` is a ``FaultPlan``, a spec
    string for ``FaultPlan.parse``, or None for none. ``token`` replaces alice's token. ``clock``
    drives created times, draft settling and link expiry. ``url_secret`` signs file links and search
    tokens (random if None). Invalid arguments raise ``ValueError``.
    """

    def __init__(
        self,
        db_path: str | None = None,
        *,
        assets: int = 200,
        seed: int = 0,
        ready_delay: float = 0.0,
        faults: FaultPlan | str | None = None,
        token: str = DEFAULT_TOKEN,
        clock: Callable[[], float] = time.time,
        url_secret: bytes | None = None,
    ) -> None:
        if assets < 0:
            raise ValueError(f"assets must be 0 or more, not {assets}")
        if ready_delay < 0:
            raise ValueError(f"ready_delay must be 0 or more seconds, not {ready_delay}")
        if not token or any(ch.isspace() or ch == ":" for ch in token):
            raise ValueError("token must be non-empty, without spaces or ':' (it is a Basic auth username)")
        self.faults = FaultPlan.parse(faults) if isinstance(faults, str) else (faults or FaultPlan())
        self.clock = clock
        self.url_secret = url_secret if url_secret is not None else secrets.token_bytes(32)
        users = (
            demo_data.DEFAULT_USERS
            if token == DEFAULT_TOKEN
            else demo_data.with_primary_token(demo_data.DEFAULT_USERS, token)
        )
        self._users = user_names(users)
        self.store = Store(db_path, clock=clock)
        if self.store.count_assets() == 0:
            data = demo_data.generate(assets, seed=seed, users=users, now=int(clock()))
            self.store.load(data.assets, data.computations)
        self.api = Api(
            store=self.store,
            users=users,
            schema=demo_data.CUSTOM_METADATA_SCHEMA,
            known_groups=demo_data.KNOWN_GROUPS,
            url_secret=self.url_secret,
            clock=clock,
            ready_delay=ready_delay,
        )
        inner = build_app(self.api, files.file_routes(self.url_secret, self.store.get_asset, clock=clock))
        self.request_log = RequestLog(FaultInjector(inner, self.faults), clock=clock)
        self.app = self.request_log

    @property
    def users(self) -> Mapping[str, UserRecord]:
        """Users by short name: ``alice``, ``bob``, ``carol``, ``alice_readonly``, ``admin``."""
        return MappingProxyType(self._users)

    @property
    def primary_name(self) -> str:
        """The short name of the primary user (alice, whose token ``token`` sets)."""
        return next(name for name, user in self._users.items() if user.scope == "write" and not user.admin)

    def token_for(self, name: str) -> str:
        """The API token of the user with this short name (see ``users``)."""
        try:
            return self._users[name].token
        except KeyError:
            raise KeyError(f"no sandbox user {name!r}; users are {', '.join(self._users)}") from None

    def close(self) -> None:
        """Close the store (a file database is left on disk)."""
        self.store.close()
