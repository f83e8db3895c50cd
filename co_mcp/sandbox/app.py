"""The Code Ocean data-asset REST API as a Starlette app: routes, auth, access rules, JSON errors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from co_mcp.sandbox import files
from co_mcp.sandbox.bodies import (
    CreateBody,
    FilesBody,
    InvalidBody,
    PermissionsBody,
    SearchBody,
    TransferBody,
    UpdateBody,
    is_number,
    parse_body,
)
from co_mcp.sandbox.records import AssetRecord, ComputationRecord, UserRecord
from co_mcp.sandbox.search import InvalidSearch, plan_search

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from co_mcp.sandbox.store import Store

__all__ = ["COMMIT_MARK", "Api", "ApiError", "asset_json", "build_app", "validate_custom_metadata"]

log = logging.getLogger("co_mcp.sandbox")

# The request log puts a dict under this scope key; handlers flip "committed" once the store changed,
# so a fault injected after the handler (a 500 that hides a success) still shows as a committed write.
COMMIT_MARK = "co_mcp.sandbox.commit"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ROLE_RANK = {"discoverable": 1, "viewer": 2, "editor": 3, "owner": 4}
# "discoverable" lets a user find an asset and read its metadata, not open its files.
_DISCOVERABLE_ONLY = "data asset {} is only discoverable to you; ask its owner for viewer access to its files"
# Bad inputs the sandbox accepts at create time but that settle as "failed", as real imports do.
MISSING_BUCKET_PREFIX = "missing-"
INPUT_BUCKET = "codeocean-input-bucket"


class ApiError(Exception):
    """An error response: ``status`` and the ``message`` the SDK reads from ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _fail(status: int, message: str) -> NoReturn:
    raise ApiError(status, message)


@dataclass
class Api:
    """Everything the handlers need; ``routes()`` binds them."""

    store: Store
    users: Sequence[UserRecord]
    schema: Mapping[str, Any]
    known_groups: Sequence[str]
    url_secret: bytes
    clock: Callable[[], float]
    ready_delay: float = 0.0
    _by_token: dict[str, UserRecord] = field(init=False, repr=False)
    _by_email: dict[str, UserRecord] = field(init=False, repr=False)
    _email_of: dict[str, str] = field(init=False, repr=False)
    _field_types: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_token = {user.token: user for user in self.users}
        self._by_email = {}
        self._email_of = {}
        for user in self.users:
            self._by_email.setdefault(user.email.lower(), user)
            self._email_of.setdefault(user.id, user.email)
        self._field_types = {f["name"]: f["type"] for f in self.schema.get("fields") or []}

    def routes(self) -> list[BaseRoute]:
        asset = "/api/v1/data_assets/{data_asset_id}"
        return [
            Route("/api/v1/data_assets/search", self.search, methods=["POST"]),
            Route("/api/v1/data_assets", self.create, methods=["POST"]),
            Route(asset, self.get, methods=["GET"]),
            Route(asset, self.update, methods=["PUT"]),
            Route(asset, self.delete, methods=["DELETE"]),
            Route(asset + "/archive", self.archive, methods=["PATCH"]),
            Route(asset + "/permissions", self.get_permissions, methods=["GET"]),
            Route(asset + "/permissions", self.set_permissions, methods=["POST"]),
            Route(asset + "/files", self.list_files, methods=["POST"]),
            Route(asset + "/files/urls", self.file_urls, methods=["GET"]),
            Route(asset + "/files/download_url", self.download_url, methods=["GET"]),
            Route(asset + "/transfer", self.transfer, methods=["POST"]),
            Route("/api/v1/custom_metadata", self.custom_metadata, methods=["GET"]),
            Route("/api/v1/computations/{computation_id}/results", self.list_results, methods=["POST"]),
        ]

    # --- who is asking, and what may they do --------------------------------------------------------

    def authenticate(self, request: Request) -> UserRecord:
        """The caller, from ``Authorization: Basic base64("<token>:")``; the password is ignored."""
        header = request.headers.get("authorization")
        if not header:
            _fail(401, "missing Authorization header: send the API token as the Basic auth username")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            _fail(401, "use Basic auth with the API token as the username and an empty password")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            _fail(401, "malformed Basic auth credentials")
        user = self._by_token.get(decoded.partition(":")[0])
        if user is None:
            _fail(401, "invalid API token")
        mark = request.scope.get(COMMIT_MARK)
        if isinstance(mark, dict):
            mark["user"] = user.email  # the request log says who asked (never with what token)
        return user

    def revoke(self, token: str) -> None:
        """The token stops working, as when its owner deletes it on their account page (401 from now on)."""
        self._by_token.pop(token, None)

    def writer(self, request: Request) -> UserRecord:
        """The caller, who must hold a Read & Write token."""
        user = self.authenticate(request)
        if user.scope != "write":
            _fail(403, "this token has read-only scope; changing data assets needs a Read & Write token")
        return user

    def role(self, user: UserRecord, asset: AssetRecord) -> str | None:
        """The caller's strongest role on ``asset``; None means the asset is invisible to them."""
        if user.admin or asset.owner_id == user.id:
            return "owner"
        roles: list[str] = []
        email = user.email.lower()
        roles += [role for shared, role in asset.shared_users.items() if shared.lower() == email]
        roles += [role for group, role in asset.shared_groups.items() if group in user.groups]
        if asset.everyone != "none":
            roles.append(asset.everyone)
        return max(roles, key=_ROLE_RANK.__getitem__, default=None)

    def visible_asset(self, request: Request, user: UserRecord) -> AssetRecord:
        asset_id = request.path_params["data_asset_id"]
        asset = self.store.get_asset(asset_id.lower()) if _UUID.fullmatch(asset_id) else None
        # Invisible and absent answer alike, so ids cannot be probed.
        if asset is None or self.role(user, asset) is None:
            _fail(404, f"data asset {asset_id} not found")
        return asset

    def editable_asset(self, request: Request, user: UserRecord, *, metadata_only: bool = False) -> AssetRecord:
        asset = self.visible_asset(request, user)
        if self.role(user, asset) not in ("owner", "editor"):
            _fail(403, f"you need editor or owner access to change data asset {asset.id}")
        # Metadata (name, tags, ...) is a database record, editable while the files are still copied in;
        # archive, delete and transfer act on the files and wait until creation has finished.
        if asset.state == "draft" and not metadata_only:
            _fail(409, f"data asset {asset.id} is still being created; try again once it is ready or failed")
        return asset

    def owner_email(self, asset: AssetRecord) -> str | None:
        return self._email_of.get(asset.owner_id)

    def asset_response(self, asset: AssetRecord) -> JSONResponse:
        return JSONResponse(asset_json(asset, self.owner_email(asset)))

    # --- data assets --------------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        user = self.authenticate(request)
        return self.asset_response(self.visible_asset(request, user))

    async def update(self, request: Request) -> Response:
        user = self.writer(request)
        raw = await request.body()
        with self.store.locked():
            asset = self.editable_asset(request, user, metadata_only=True)
            body = parse_body(UpdateBody, raw)
            if body.name is not None:
                asset.name = body.name
            if body.description is not None:
                asset.description = body.description
            if body.tags is not None:
                asset.tags = list(body.tags)
            if body.mount is not None:
                asset.mount = body.mount
            if body.custom_metadata is not None:
                # A given map replaces the whole map; {} clears it.
                asset.custom_metadata = validate_custom_metadata(body.custom_metadata, self.schema) or None
            self.store.save_asset(asset)
            mark_committed(request)
        return self.asset_response(asset)

    async def delete(self, request: Request) -> Response:
        user = self.writer(request)
        with self.store.locked():
            asset = self.editable_asset(request, user)
            self.store.delete_asset(asset.id)
            mark_committed(request)
        return Response(status_code=204)

    async def archive(self, request: Request) -> Response:
        user = self.writer(request)
        with self.store.locked():
            asset = self.editable_asset(request, user)
            raw = request.query_params.get("archive")
            if raw is None:
                _fail(400, "archive: is required (true or false)")
            # The SDK sends Python's True/False; the docs show true/false.
            if raw.lower() not in ("true", "false"):
                _fail(400, "archive: must be true or false")
            archived = raw.lower() == "true"
            if asset.archived != archived:
                asset.archived = archived
                self.store.save_asset(asset)
                mark_committed(request)
        return Response(status_code=204)

    async def create(self, request: Request) -> Response:
        user = self.writer(request)
        body = parse_body(CreateBody, await request.body())
        with self.store.locked():
            asset = self._new_asset(user, body)
            self.store.insert_asset(asset)
            mark_committed(request)
        return self.asset_response(asset)

    def _new_asset(self, user: UserRecord, body: CreateBody) -> AssetRecord:
        sources = body.source.given() if body.source is not None else []
        if len(sources) > 1:
            _fail(
                400, f"source: set exactly one of aws, gcp, computation, cloud_workstation (got {', '.join(sources)})"
            )
        if sources and body.data_asset_ids is not None:
            _fail(400, "data_asset_ids: a combined asset has no source; send either source or data_asset_ids")
        if not sources and body.data_asset_ids is None:
            _fail(400, "source: is required (or data_asset_ids, to combine existing data assets)")
        kind = sources[0] if sources else "combined"
        if body.target is not None:
            if kind != "computation":
                _fail(400, "target: only applies to a computation source")
            if body.target.aws is None:
                _fail(400, "target.aws: is required")
        if body.results_info is not None:
            if kind not in ("aws", "gcp"):
                _fail(400, "results_info: only applies to results imported from an aws or gcp source")
            if not (body.results_info.capsule_id or body.results_info.pipeline_id):
                _fail(400, "results_info: set capsule_id or pipeline_id")
        metadata = validate_custom_metadata(body.custom_metadata or {}, self.schema) or None

        now = self.clock()
        draft = AssetRecord(
            id=str(uuid.uuid4()),
            created=int(now),
            name=body.name,
            mount=body.mount,
            owner_id=user.id,
            state="draft",
            type="dataset",
            description=body.description,
            tags=list(body.tags or []),
            custom_metadata=metadata,
            settles_at=now + self.ready_delay,
        )
        if kind == "aws":
            self._from_aws(draft, user, body)
        elif kind == "gcp":
            self._from_gcp(draft, body)
        elif kind == "computation":
            self._from_computation(draft, user, body)
        elif kind == "cloud_workstation":
            self._from_cloud_workstation(draft, user, body)
        else:
            self._combine(draft, user, body.data_asset_ids or [])
        if body.results_info is not None:
            info = body.results_info
            draft.type = "result"
            draft.provenance = _compact(
                {
                    "capsule": info.capsule_id or info.pipeline_id,
                    "commit": info.commit,
                    "run_script": info.run_script,
                    "data_assets": list(info.data_assets or []),
                }
            )
            if info.parameters:
                draft.app_parameters = [
                    {"name": p.name or p.param_name or "", "value": p.value or ""} for p in info.parameters
                ]
            draft.nextflow_profile = info.nextflow_profile
        if draft.settle_failure_reason is not None:
            draft.files = draft.size = None
        return draft

    def _from_aws(self, draft: AssetRecord, user: UserRecord, body: CreateBody) -> None:
        assert body.source is not None
        assert body.source.aws is not None
        aws = body.source.aws
        bucket = aws.bucket
        if aws.use_input_bucket:
            if not user.admin:
                _fail(403, "source.aws.use_input_bucket: only admins may create from the input bucket")
            bucket = INPUT_BUCKET  # docs/codeocean-api.md §6.3: every property but prefix is then ignored
        external = bool(aws.keep_on_external_storage) and not aws.use_input_bucket
        draft.source_bucket = {"origin": "aws", "bucket": bucket, "prefix": aws.prefix or "", "external": external}
        if bucket.startswith(MISSING_BUCKET_PREFIX):
            draft.settle_failure_reason = f"S3 bucket {bucket} does not exist or Code Ocean cannot read it"
        _size_from_tree(draft, *_imported_shape(bucket, aws.prefix or ""))

    def _from_gcp(self, draft: AssetRecord, body: CreateBody) -> None:
        assert body.source is not None
        assert body.source.gcp is not None
        gcp = body.source.gcp
        # client_id and client_secret are used, never stored: the record has no place for them.
        draft.source_bucket = {"origin": "gcp", "bucket": gcp.bucket, "prefix": gcp.prefix or "", "external": False}
        if not (gcp.client_id and gcp.client_secret):
            draft.settle_failure_reason = (
                f"Google Cloud Storage bucket {gcp.bucket} needs client_id and client_secret; access was denied"
            )
        elif gcp.bucket.startswith(MISSING_BUCKET_PREFIX):
            draft.settle_failure_reason = f"Google Cloud Storage bucket {gcp.bucket} does not exist"
        _size_from_tree(draft, *_imported_shape(gcp.bucket, gcp.prefix or ""))

    def _computation(self, user: UserRecord, computation_id: str, where: str) -> ComputationRecord:
        computation = self.store.get_computation(computation_id.lower()) if _UUID.fullmatch(computation_id) else None
        # Only its owner (or an admin) may capture a run; to anyone else it does not exist.
        if computation is None or not (user.admin or computation.owner_id == user.id):
            _fail(404, f"{where}: computation {computation_id} not found")
        return computation

    def _capture(self, draft: AssetRecord, computation: ComputationRecord, path: str, where: str) -> None:
        """Give ``draft`` the files of one folder of the run (``""``: all of them), or 400 naming the path."""
        run = files.run_tree(computation.id, computation.kind, computation.result_files, computation.result_size)
        what = (
            "the capsule folder of cloud workstation" if computation.kind == "cloud_workstation" else "the results of"
        )
        try:
            captured = run.subtree(path)
        except files.PathNotFound:
            _fail(400, f"{where}: no folder {path!r} in {what} computation {computation.id}")
        except files.NotAFolder:
            _fail(400, f"{where}: {path!r} is a file in {what} computation {computation.id}; give a folder")
        draft.captured_from = dict(
            files.capture_source(
                computation.id, computation.kind, computation.result_files, computation.result_size, path
            )
        )
        draft.files, draft.size = captured.totals()

    def _from_computation(self, draft: AssetRecord, user: UserRecord, body: CreateBody) -> None:
        assert body.source is not None
        assert body.source.computation is not None
        computation = self._computation(user, body.source.computation.id, "source.computation.id")
        if computation.state == "running":
            _fail(409, f"computation {computation.id} is still running; capture its results once it has finished")
        if computation.state == "failed":
            draft.settle_failure_reason = f"computation {computation.id} failed, so it has no results to capture"
        else:
            # The path is a folder of the run's /results (docs/codeocean-api.md §6.3); empty captures all.
            path = (body.source.computation.path or "").strip("/")
            self._capture(draft, computation, path, "source.computation.path")
        draft.type = "result"
        draft.provenance = _provenance(computation)
        draft.nextflow_profile = computation.nextflow_profile
        if body.target is not None and body.target.aws is not None:
            target = body.target.aws
            draft.source_bucket = {
                "origin": "aws",
                "bucket": target.bucket,
                "prefix": target.prefix or "",
                "external": True,
            }
        else:
            draft.source_bucket = {"origin": "local"}

    def _from_cloud_workstation(self, draft: AssetRecord, user: UserRecord, body: CreateBody) -> None:
        assert body.source is not None
        assert body.source.cloud_workstation is not None
        source = body.source.cloud_workstation
        computation = self._computation(user, source.id, "source.cloud_workstation.id")
        if computation.kind != "cloud_workstation":
            _fail(400, f"source.cloud_workstation.id: computation {computation.id} is not a cloud workstation session")
        if computation.state == "failed":
            draft.settle_failure_reason = f"cloud workstation session {computation.id} failed"
        else:
            self._capture(draft, computation, capsule_path(source.path), "source.cloud_workstation.path")
        if source.run_script:
            draft.type = "result"
            draft.provenance = _compact({**_provenance(computation), "run_script": source.run_script})
        draft.source_bucket = {"origin": "local"}

    def _combine(self, draft: AssetRecord, user: UserRecord, member_ids: list[str]) -> None:
        if not member_ids:
            _fail(400, "data_asset_ids: must not be empty")
        members: list[AssetRecord] = []
        mounts: dict[str, int] = {}
        for index, member_id in enumerate(dict.fromkeys(member_ids)):
            member = self.store.get_asset(member_id.lower()) if _UUID.fullmatch(member_id) else None
            if member is None or self.role(user, member) is None:
                _fail(404, f"data_asset_ids[{index}]: data asset {member_id} not found")
            if self.role(user, member) == "discoverable":
                _fail(403, f"data_asset_ids[{index}]: " + _DISCOVERABLE_ONLY.format(member.id))
            if member.state == "draft":
                _fail(409, f"data_asset_ids[{index}]: data asset {member.id} is still being created")
            if member.state == "failed":
                _fail(400, f"data_asset_ids[{index}]: data asset {member.id} failed and cannot be combined")
            # Each member is a folder of the combined asset, named by its mount: two cannot share one.
            if member.mount in mounts:
                _fail(
                    400,
                    f"data_asset_ids[{index}]: data asset {member.id} has the mount {member.mount!r} of "
                    f"data_asset_ids[{mounts[member.mount]}]; combined members need different mounts",
                )
            mounts[member.mount] = index
            members.append(member)
        draft.type = "combined"
        draft.source_bucket = {"origin": "local"}
        draft.contained_data_assets = [{"id": m.id, "mount": m.mount, "size": m.size or 0} for m in members]
        draft.files = sum(m.files or 0 for m in members)
        draft.size = sum(m.size or 0 for m in members)

    # --- permissions --------------------------------------------------------------------------------

    async def get_permissions(self, request: Request) -> Response:
        user = self.authenticate(request)
        asset = self.visible_asset(request, user)
        owner = self.owner_email(asset)
        users = [{"email": owner, "role": "owner"}] if owner else []
        users += [{"email": email, "role": role} for email, role in asset.shared_users.items()]
        groups = [{"group": group, "role": role} for group, role in asset.shared_groups.items()]
        return JSONResponse(
            {"users": users, "groups": groups, "everyone": asset.everyone, "share_assets": asset.share_assets}
        )

    async def set_permissions(self, request: Request) -> Response:
        user = self.writer(request)
        raw = await request.body()
        with self.store.locked():
            asset = self.visible_asset(request, user)
            if self.role(user, asset) != "owner":
                _fail(403, f"only an owner of data asset {asset.id} (or an admin) can change its permissions")
            body = parse_body(PermissionsBody, raw)
            owner = (self.owner_email(asset) or "").lower()
            shared_users = dict(asset.shared_users)
            for index, grant in enumerate(body.users or []):
                known = self._by_email.get(grant.email.lower())
                if known is None:
                    _fail(400, f"users[{index}].email: no user has the e-mail {grant.email}")
                if known.email.lower() == owner:
                    if grant.role != "owner":
                        _fail(400, f"users[{index}].role: the owner's own role cannot be changed")
                    continue
                # Upsert by e-mail: drop any differently-cased key for the same person first.
                for existing in [e for e in shared_users if e.lower() == known.email.lower()]:
                    del shared_users[existing]
                shared_users[known.email] = grant.role
            shared_groups = dict(asset.shared_groups)
            for index, group_grant in enumerate(body.groups or []):
                if group_grant.group not in self.known_groups:
                    _fail(
                        400,
                        f"groups[{index}].group: unknown group {group_grant.group!r}; "
                        f"known groups: {', '.join(self.known_groups)}",
                    )
                shared_groups[group_grant.group] = group_grant.role
            changed = (shared_users, shared_groups) != (asset.shared_users, asset.shared_groups)
            asset.shared_users, asset.shared_groups = shared_users, shared_groups
            if body.everyone is not None and body.everyone != asset.everyone:
                asset.everyone, changed = body.everyone, True
            if body.share_assets is not None and body.share_assets != asset.share_assets:
                asset.share_assets, changed = body.share_assets, True
            if changed:
                self.store.save_asset(asset)
                mark_committed(request)
        return Response(status_code=204)

    # --- search ---------------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        user = self.authenticate(request)
        body = parse_body(SearchBody, await request.body())
        try:
            plan = plan_search(body, user, self._field_types, secret=self.url_secret)
        except InvalidSearch as exc:
            _fail(400, str(exc))
        page = self.store.search(plan)
        return JSONResponse(
            {
                "has_more": page.has_more,
                "next_token": (
                    plan.token_after(page.records[-1], page.last_tier) if page.has_more and page.records else None
                ),
                "results": [asset_json(record, self.owner_email(record)) for record in page.records],
            }
        )

    # --- files ----------------------------------------------------------------------------------------

    def _listable(self, request: Request, user: UserRecord) -> tuple[AssetRecord, files.Tree]:
        asset = self.visible_asset(request, user)
        if self.role(user, asset) == "discoverable":
            _fail(403, _DISCOVERABLE_ONLY.format(asset.id))
        if asset.state == "draft":
            _fail(409, f"data asset {asset.id} is still being created; its files appear once it is ready")
        if asset.state == "failed":
            _fail(409, f"data asset {asset.id} failed to be created and has no files")
        bucket = asset.source_bucket or {}
        if bucket.get("external"):
            where = f"s3://{bucket.get('bucket', '')}/{bucket.get('prefix') or ''}".rstrip("/")
            _fail(400, f"external data assets cannot be listed through the API; read their files at {where}")
        return asset, files.tree_for(asset, self.store.get_asset)

    async def list_files(self, request: Request) -> Response:
        user = self.authenticate(request)
        raw = await request.body()
        asset, tree = self._listable(request, user)
        path = (parse_body(FilesBody, raw).path or "").strip("/")
        try:
            items = tree.list(path)
        except files.PathNotFound:
            _fail(404, f"path {path!r} not found in data asset {asset.id}")
        except files.NotAFolder:
            _fail(400, f"path: {path!r} is a file, not a folder")
        return JSONResponse({"items": items})

    def _signed(self, request: Request) -> tuple[str, str]:
        user = self.authenticate(request)
        asset, tree = self._listable(request, user)
        path = (request.query_params.get("path") or "").strip("/")
        if not path:
            _fail(400, "path: is required (a file path inside the data asset)")
        if tree.stat(path) is None:
            try:
                tree.list(path)
            except (files.PathNotFound, files.NotAFolder):
                _fail(404, f"file {path!r} not found in data asset {asset.id}")
            _fail(400, f"path: {path!r} is a folder; ask for a file")
        base_url = str(request.base_url).rstrip("/")
        return files.signed_urls(base_url, self.url_secret, asset.id, path, now=self.clock())

    async def file_urls(self, request: Request) -> Response:
        download_url, view_url = self._signed(request)
        return JSONResponse({"download_url": download_url, "view_url": view_url})

    async def download_url(self, request: Request) -> Response:
        download_url, _ = self._signed(request)
        return JSONResponse({"url": download_url})

    # --- computations ---------------------------------------------------------------------------------

    async def list_results(self, request: Request) -> Response:
        """``POST computations/{id}/results``: one level of a run's ``/results`` folder (what a capture takes)."""
        user = self.authenticate(request)
        raw = await request.body()
        computation = self._computation(user, request.path_params["computation_id"], "computation")
        if computation.state == "running" and computation.kind != "cloud_workstation":
            _fail(409, f"computation {computation.id} is still running; its results appear once it has finished")
        run = files.run_tree(computation.id, computation.kind, computation.result_files, computation.result_size)
        results = run.subtree("results") if computation.kind == "cloud_workstation" else run
        path = (parse_body(FilesBody, raw).path or "").strip("/")
        try:
            items = results.list(path)
        except files.PathNotFound:
            _fail(404, f"path {path!r} not found in the results of computation {computation.id}")
        except files.NotAFolder:
            _fail(400, f"path: {path!r} is a file, not a folder")
        return JSONResponse({"items": items})

    # --- transfer and schema --------------------------------------------------------------------------

    async def transfer(self, request: Request) -> Response:
        user = self.writer(request)
        if not user.admin:
            _fail(403, "transferring data assets is for admins only")
        raw = await request.body()
        with self.store.locked():
            asset = self.editable_asset(request, user)
            body = parse_body(TransferBody, raw)
            if body.target.aws is None:
                _fail(400, "target.aws: is required")
            if asset.used_by_release_pipelines and not body.force:
                _fail(
                    409, f"data asset {asset.id} is used by release pipelines; set force to true to transfer it anyway"
                )
            target = body.target.aws
            if target.bucket.startswith(MISSING_BUCKET_PREFIX):
                # Transfers run in the background: the request succeeds and the failure is recorded.
                asset.transfer_error = f"S3 bucket {target.bucket} does not exist or Code Ocean cannot write to it"
            else:
                asset.source_bucket = {
                    "origin": "aws",
                    "bucket": target.bucket,
                    "prefix": target.prefix or "",
                    "external": True,
                }
                asset.last_transferred = int(self.clock())
                asset.transfer_error = None
            self.store.save_asset(asset)
            mark_committed(request)
        return Response(status_code=204)

    async def custom_metadata(self, request: Request) -> Response:
        self.authenticate(request)
        return JSONResponse(dict(self.schema))


def mark_committed(request: Request) -> None:
    """Tell the request log that this request changed the store."""
    mark = request.scope.get(COMMIT_MARK)
    if isinstance(mark, dict):
        mark["committed"] = True


def asset_json(asset: AssetRecord, owner_email: str | None) -> dict[str, Any]:
    """The DataAsset object: every required key, ``owner_email`` and ``tags`` always, other nulls left out.

    A draft has no ``files`` or ``size`` yet: the copy is still running, so they are known only once it
    is ready (docs/codeocean-api.md §5.3). The record keeps the figures the draft will settle with.
    """
    settled = asset.state != "draft"
    data: dict[str, Any] = {
        "id": asset.id,
        "created": int(asset.created),
        "name": asset.name,
        "mount": asset.mount,
        "last_used": int(asset.last_used),
        "owner": asset.owner_id,
        "state": asset.state,
        "type": asset.type,
        "owner_email": owner_email,
        "tags": list(asset.tags),
    }
    optional: dict[str, Any] = {
        "files": None if asset.files is None or not settled else int(asset.files),
        "size": None if asset.size is None or not settled else int(asset.size),
        "description": asset.description,
        "provenance": asset.provenance,
        "source_bucket": asset.source_bucket,
        "custom_metadata": asset.custom_metadata,
        "app_parameters": asset.app_parameters,
        "nextflow_profile": asset.nextflow_profile,
        "contained_data_assets": asset.contained_data_assets,
        "last_transferred": asset.last_transferred,
        "transfer_error": asset.transfer_error,
        "failure_reason": asset.failure_reason,
    }
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


def validate_custom_metadata(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Check a custom-metadata map against the deployment schema; raises ``InvalidBody`` (400).

    Unknown keys, wrong types, values outside ``allowed_values`` or ``range``, and lists for fields
    that are not ``multiple`` are refused. ``required`` fields are enforced only when the map is not
    empty: ``{}`` (or no map) means "no custom metadata".
    """
    fields = {f["name"]: f for f in schema.get("fields") or []}
    for key, value in values.items():
        where = f"custom_metadata.{key}"
        spec = fields.get(key)
        if spec is None:
            raise InvalidBody(f"{where}: unknown field; GET custom_metadata lists the fields: {', '.join(fields)}")
        if isinstance(value, list):
            if not spec.get("multiple"):
                raise InvalidBody(f"{where}: takes a single value, not a list")
            items = value
        else:
            items = [value]
        for item in items:
            _check_metadata_value(where, spec, item)
    if values:
        for name, spec in fields.items():
            if spec.get("required") and name not in values:
                raise InvalidBody(f"custom_metadata.{name}: is required")
    return dict(values)


def _check_metadata_value(where: str, spec: Mapping[str, Any], item: Any) -> None:
    if spec["type"] == "string":
        if not isinstance(item, str):
            raise InvalidBody(f"{where}: must be a string")
    elif not is_number(item):
        what = "a date as epoch seconds (a number)" if spec["type"] == "date" else "a number"
        raise InvalidBody(f"{where}: must be {what}")
    allowed = spec.get("allowed_values")
    if allowed and item not in allowed:
        raise InvalidBody(f"{where}: must be one of {', '.join(str(v) for v in allowed)}")
    bounds = spec.get("range") or {}
    low, high = bounds.get("min"), bounds.get("max")
    if (low is not None and item < low) or (high is not None and item > high):
        raise InvalidBody(
            f"{where}: must be between {low if low is not None else '-inf'} and {high if high is not None else 'inf'}"
        )


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _provenance(computation: ComputationRecord) -> dict[str, Any]:
    return _compact(
        {
            "capsule": computation.capsule_id or computation.pipeline_id,
            "computation": computation.id,
            "commit": computation.commit,
            "run_script": computation.run_script,
            "docker_image": computation.docker_image,
            # The data assets attached to the run are the result's inputs (docs/codeocean-api.md §5.4).
            "data_assets": list(computation.data_assets),
        }
    )


def capsule_path(path: str) -> str:
    """A cloud workstation path relative to its capsule folder: ``/root/capsule/scratch`` is ``scratch``.

    The docs call it a "capsule path"; the session's capsule folder is ``/root/capsule``.
    """
    parts = [part for part in path.strip().split("/") if part]
    for prefix in (["root", "capsule"], ["capsule"]):
        if parts[: len(prefix)] == prefix:
            parts = parts[len(prefix) :]
            break
    return "/".join(parts)


def _imported_shape(bucket: str, prefix: str) -> tuple[int, int]:
    """A stable file count and size for what a bucket import "finds" (same source, same shape)."""
    digest = int.from_bytes(hashlib.sha256(f"{bucket}/{prefix}".encode()).digest()[:8], "big")
    return 3 + digest % 60, 1_048_576 + (digest >> 8) % (8 * 1024**3)


def _size_from_tree(asset: AssetRecord, file_count: int, size: int) -> None:
    # The file tree is what list_files shows; its totals are the asset's files and size, so they agree.
    asset.files, asset.size = files.FileTree.for_asset(asset.id, file_count, size, asset.type).totals()


# --- the ASGI app -----------------------------------------------------------------------------------


def _error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=dict(headers or {}))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": 'Basic realm="Code Ocean"'} if exc.status == 401 else None
    return _error_response(exc.status, exc.message, headers)


async def _invalid_body(request: Request, exc: Exception) -> Response:
    return _error_response(400, str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = exc.detail
    return _error_response(exc.status_code, message, exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error_response(500, "Internal server error")


def build_app(api: Api, extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The API (plus ``extra_routes``, e.g. signed file links) inside a last-resort 500 boundary."""
    app = Starlette(
        routes=[*api.routes(), *extra_routes],
        exception_handlers={
            ApiError: _api_error,
            InvalidBody: _invalid_body,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    # "/data_assets/x/" is a different (unknown) path to the real API, not a redirect.
    app.router.redirect_slashes = False
    return _ErrorBoundary(app)


class _ErrorBoundary:
    """Keeps a handler's crash from escaping the app (an in-process client would see the exception).

    Starlette already answered 500 ``{"message": "Internal server error"}`` and re-raises so servers
    can log; this logs the traceback and stops it, and answers 500 itself if nothing was sent yet.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # The client hung up before its body was read (say, it timed out while a latency fault held
            # the request): nothing was done, nobody is listening, and it is no bug of the handler.
            log.info("client went away before its request was read: %s %s", scope.get("method"), scope.get("path"))
        except Exception:
            log.exception("sandbox handler failed: %s %s", scope.get("method"), scope.get("path"))
            if not started and scope["type"] == "http":
                await _error_response(500, "Internal server error")(scope, receive, send)
