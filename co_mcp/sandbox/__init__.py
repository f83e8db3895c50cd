"""The sandbox: a faithful, SQLite-backed emulator of the Code Ocean data-asset REST API.

Every test of co_mcp stands on it, and the official ``codeocean`` SDK (0.17.0) is an independent
client of it, so it follows ``docs/codeocean-api.md`` (the contract) and accepts exactly what the
SDK sends: every key present, ``null`` for unset optionals, ``archive=True`` capitalised. ::

    sandbox = Sandbox(assets=200, seed=0)          # in memory; db_path="x.sqlite3" keeps data
    sandbox.app                                    # ASGI: RequestLog -> FaultInjector -> API + file links
    with server.running(sandbox) as base_url: ...  # real loopback HTTP (uvicorn in a thread)

Parts: ``app`` (routes, auth, access rules, JSON errors), ``bodies`` (strict request models),
``store`` (SQLite + FTS5), ``search`` (query language, SQL, page tokens), ``requestlog``,
``server``; ``files``, ``faults`` and ``demo_data`` are documented in their own modules.

Users and tokens (``Sandbox.users`` by short name, ``Sandbox.token_for(name)``):
alice ``cop_sandbox_token`` (the primary user; ``token=`` replaces it; groups genomics), bob
``cop_sandbox_bob`` (genomics, imaging), carol ``cop_sandbox_carol`` (imaging), alice_readonly
``cop_sandbox_readonly`` (alice, Read scope), admin ``cop_sandbox_admin``. Known groups:
``demo_data.KNOWN_GROUPS``.

Behaviour the contract leaves open (marked **assumed** there), and what the sandbox does
---------------------------------------------------------------------------------

Authentication and access

- Basic auth with the token as username; the password is ignored. No or a malformed header, a
  Bearer header or an unknown token: 401 ``{"message"}`` with ``WWW-Authenticate: Basic``.
  ``Min-Server-Version`` and ``Agent-Id`` are accepted and ignored.
- A Read-scope token gets 403 on every write (PUT, create, archive, delete, POST permissions,
  transfer) before anything else is looked at; reads, including POST search and POST files, work.
- An asset is visible to its owner, to users it is shared with (by e-mail, case-insensitively), to
  members of groups it is shared with, to everyone when ``everyone`` is not ``none``, and to
  admins. Anything else, and any id that is not a UUID, is 404 with the same message as a missing
  asset, so ids cannot be probed. Upper-case UUIDs are accepted. A ``discoverable``-only role finds
  the asset and reads its metadata and permissions, but listing or signing its files, or combining
  it, is 403.
- Roles are the strongest of: owner, the user's share, its groups' shares, ``everyone``. Update,
  archive and delete need owner or editor (else 403). Changing permissions needs owner: the asset's
  owner, a user or group shared as ``owner``, or an admin. Transfer is for admins only (403 even for
  owners). Admins may do everything an owner may.
- Checks run in this order: 401, 403 for scope, 404, 403 for role, 409 for state, then 400 for the
  body (a create has no asset to look up, so its body comes first).

Errors

- Every error body is ``{"message": str}``. 400 messages name the field the way a person would
  write it: ``sort_field: must be one of created, type, name, size``, ``filters[0].range.min: must
  be a number``. A 400 never changes the store.
- Unknown routes are a JSON 404, wrong methods a JSON 405; trailing slashes are not redirected (a
  different, unknown path). A bug in a handler is 500 ``{"message": "Internal server error"}``; the
  traceback goes to the ``co_mcp.sandbox`` logger, never into the body.

Request bodies

- Strict JSON types: ``"5"`` is not an integer, ``5.0`` is not a valid ``limit``, ``0``/``1`` are not
  booleans. Explicit ``null`` means absent everywhere; a required key sent as null reads "is
  required". Unknown keys are ignored. An empty body is ``{}``.
- Names and tags must not be blank; a mount is one folder name (no ``/``, not ``.`` or ``..``).

Data assets (GET, PUT, create)

- The DataAsset object always carries the eight required keys plus ``owner_email`` (null only if
  the owner is unknown) and ``tags``; other optional keys are left out when null. There is no
  ``archived`` key (the SDK's model has none). ``created``, ``last_used`` (0 until used), ``size``
  and ``files`` are integers.
- PUT: null or absent leaves a field alone; ``tags`` replaces the list; ``custom_metadata`` replaces
  the whole map (``{}`` clears it); ``description`` may be set to ``""``.
- Custom metadata is checked against ``GET custom_metadata``: unknown keys, strings for numbers,
  numbers for strings, booleans, values outside ``allowed_values`` (exact, case-sensitive) or
  ``range`` (inclusive), and lists for fields that are not ``multiple`` are 400. ``date`` values are
  epoch seconds (a JSON number). ``required`` fields are enforced whenever a non-empty map is given.
- Create validates (all 400 unless noted): exactly one source; a source or ``data_asset_ids``, not
  both and not neither; ``target`` only with a computation source; ``results_info`` only with an aws
  or gcp source, and with ``capsule_id`` or ``pipeline_id``; ``use_input_bucket`` only for admins
  (403); ``tags`` may be omitted (empty list). Unknown computations or data assets are 404 naming
  them; a computation counts as unknown to anyone but its owner or an admin; a running computation
  is 409; a ``cloud_workstation`` source must name a cloud workstation session (400 otherwise);
  combining a draft is 409 and a failed asset 400.
- What a new asset looks like: aws → ``dataset`` with ``source_bucket {origin: aws, bucket, prefix,
  external}`` (``external`` true only with ``keep_on_external_storage``; ``use_input_bucket`` reads
  the internal ``codeocean-input-bucket``); gcp → ``dataset``, ``{origin: gcp, bucket, prefix,
  external: false}`` (client_id/client_secret are used, never stored or logged); computation →
  ``result`` with provenance ``{capsule (capsule or pipeline id), computation, commit, run_script,
  docker_image, data_assets}`` (``data_assets``: the assets attached to the run, its inputs) and the
  run's ``nextflow_profile``, ``{origin: local}`` or, with a target, ``{origin: aws, bucket, prefix,
  external: true}``; cloud workstation → ``result`` with provenance when ``run_script`` is given,
  else ``dataset``, ``{origin: local}``; ``data_asset_ids`` → ``combined`` with
  ``contained_data_assets [{id, mount, size}]`` (duplicates dropped; two members with one mount are
  400); ``results_info`` → ``result``
  with provenance ``{capsule, commit, run_script, data_assets}``, ``app_parameters`` from its
  parameters and its ``nextflow_profile``. ``prefix`` is ``""`` when not given.
- Files and size: a bucket import "finds" a file count and size that are a pure function of bucket
  and prefix, passed through ``files.FileTree`` and its totals stored, so listings add up. A
  computation or workstation capture holds the folder its ``path`` names (all results when a
  computation's path is empty; a workstation path is relative to ``/root/capsule``), with the run's
  own names, sizes and bytes; a path that is not a folder of the run is 400 naming it. ``POST
  computations/{id}/results`` lists a run's results. A combined asset's files and size are the sums
  of its members', and its files are each member's in a folder named by the member's mount.
- Drafts: a new asset is ``draft`` in the create response, without ``files`` or ``size`` (they are
  reported once it is ready), and settles ``ready`` (or ``failed``) at
  ``created + ready_delay``, lazily, on the next read of the store (GET, search, listing, or a test
  reading ``sandbox.store``); with ``ready_delay=0`` the next read settles it. Inputs that settle as
  ``failed`` with a ``failure_reason`` (and no files or size): an aws bucket named ``missing-...``;
  a gcp source without both client_id and client_secret, or a bucket named ``missing-...``; a
  computation or workstation session in state ``failed``.
- A draft's metadata (PUT) and permissions can be changed; archive, delete and transfer of a draft
  are 409 "still being created", as are listing or signing files of a draft or a failed asset.

Archive, delete

- ``PATCH .../archive?archive=`` takes true/false in any case (``True`` from the SDK); missing or
  anything else is 400. Idempotent: 204 either way, and the request log marks it committed only when
  the flag changed. Archived assets stay readable and writable; only search hides them.
- DELETE is 204, then 404. Use by release pipelines does not block a delete (only a transfer).
  Deleting a member of a combined asset removes it from the combined asset, whose files and size
  shrink to those of the members it still holds (an empty combined asset stays).

Permissions

- GET lists the owner first as ``{email, role: owner}``, then shared users in the order they were
  added, groups, ``everyone`` and ``share_assets``. Anyone who can see the asset may read them.
- POST: a null key leaves that part alone; ``users`` are upserted by e-mail (a known user's, matched
  case-insensitively, else 400 naming it); ``groups`` are upserted (known groups only, else 400);
  ``everyone`` and ``share_assets`` are replaced. The owner's own entry may only say ``owner`` (a
  no-op); any other role for the owner is 400. Nobody can be removed (the contract has no way to
  say so); roles can be lowered. 204, also when nothing changed.

Files

- POST files lists one level; ``""`` and ``"/"`` are the root and outer slashes are ignored; an
  unknown path is 404, a file's path 400; external assets are 400 ("external data assets cannot be
  listed ..." with their s3:// location).
- ``files/urls?path=`` needs a file's path (400 if missing or a folder, 404 if unknown) and answers
  absolute links signed for one hour, built on the URL the request came to (``http://sandbox/...``
  in-process, ``http://127.0.0.1:port/...`` over loopback) and served by the sandbox itself under
  ``/__files/`` without auth. The deprecated ``files/download_url`` answers ``{"url": <download link>}``.

Transfer

- Needs ``target.aws.bucket``; an asset used by release pipelines needs ``force: true`` (else 409).
  Success: ``source_bucket {origin: aws, bucket, prefix, external: true}``, ``last_transferred``
  now, ``transfer_error`` cleared, provenance kept; 204. Transfers run in the background on a real
  server, so a target bucket named ``missing-...`` still answers 204 but records ``transfer_error``
  and moves nothing.

Search (grammar and paging in ``search``'s docstring)

- Free text matches whole words (FTS5, ``unicode61`` tokenizer with diacritics folded) in name,
  tags, description and custom-metadata string values; a quoted phrase matches within one value of
  one field (one tag, not across two). ``unicode61`` rather than ``trigram``: the real search matches
  words, so ``rna`` must not find "internal"; the word index is also smaller and quicker to build.
- Filters: exactly one of ``value``, ``values`` (any of) or ``range`` (``min`` and/or ``max``,
  inclusive; number and date fields only). ``name``/``description`` match the words anywhere (like
  ``name:``); ``tags`` and string custom fields match a whole value, case-insensitively (any value
  of a ``multiple`` field); number/date fields compare numbers. ``exclude`` negates (assets without
  the field then match). An unknown key is 400 listing the known ones.
- ``ownership``: ``created`` = the caller owns it; ``shared`` = shared with the caller's e-mail or
  one of its groups and not owned (``everyone`` does not count); ``private`` = owned and shared with
  no user or group, ``everyone`` none. ``origin``: ``external`` = ``source_bucket.external`` true.
  ``favorite: true`` = the caller's favourites (false or null: no filter). ``archived``: null or
  false → active assets only; true → archived only. Drafts and failed assets are included.
- Order: with free text and no ``sort_field``, relevance tiers (every term in the name, some in the
  name, tags, description, custom metadata only), newest first within a tier; otherwise ``created``
  descending by default; ``sort_order`` is ignored without ``sort_field``; a ``sort_field`` without
  ``sort_order`` is descending. Names sort case-insensitively, unknown sizes
  below zero, ties by id in the same direction.
- ``limit`` 1..1000 (default 100); ``offset`` or its legacy name ``from`` (``offset`` wins);
  ``next_token`` wins over both. ``next_token`` is an opaque keyset cursor (last row's sort key and
  id), HMAC-signed and bound to the caller and to every parameter but limit/offset: another query's
  token is 400, an empty string means none. ``has_more`` comes from fetching one extra row;
  ``next_token`` is null on the last page. Pages stay consistent while assets come and go.

Serving, state, and the log

- ``db_path`` None is in memory. A database file that already holds assets is used as it is: no
  demo data is added and the arguments that shape demo data are ignored.
- One SQLite connection shared by uvicorn's thread and the test's, serialised by a lock; handlers
  call it synchronously (queries take milliseconds).
- ``request_log`` entries: method, path, query string, status (None if no response started),
  operation (``faults.operation_for``), whether the API committed a change (true even when an
  injected fault then answered 500), and time. Never bodies or headers. The newest ``log_size``
  (default 50,000) are kept, so a long-running sandbox does not grow by every request.
- How it scales (building, search and paging at 100,000 assets) is measured by ``bench/bench_sandbox.py``;
  the figures are in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import secrets
import time
from types import MappingProxyType
from typing import TYPE_CHECKING

from co_mcp.sandbox import demo_data, files
from co_mcp.sandbox.app import Api, build_app
from co_mcp.sandbox.faults import FaultInjector, FaultPlan
from co_mcp.sandbox.requestlog import DEFAULT_MAX_ENTRIES, LoggedRequest, RequestLog
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
    tokens (random if None). ``log_size`` bounds the request log (newest entries kept; None: no bound).
    Invalid arguments raise ``ValueError``.
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
        log_size: int | None = DEFAULT_MAX_ENTRIES,
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
        self.request_log = RequestLog(FaultInjector(inner, self.faults), clock=clock, max_entries=log_size)
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

    def revoke(self, name: str) -> None:
        """The user's token stops working (deleted on their account page): Code Ocean answers it 401."""
        self.api.revoke(self.token_for(name))

    def close(self) -> None:
        """Close the store (a file database is left on disk)."""
        self.store.close()
