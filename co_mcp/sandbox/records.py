"""Plain records the sandbox stores: users, computations and data assets (server-side view)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["read", "write"]
UserRole = Literal["owner", "editor", "viewer"]
GroupRole = Literal["owner", "editor", "viewer", "discoverable"]
EveryoneRole = Literal["viewer", "discoverable", "none"]
AssetType = Literal["dataset", "result", "combined", "model"]
AssetState = Literal["draft", "ready", "failed"]
ComputationKind = Literal["capsule", "pipeline", "cloud_workstation"]
ComputationState = Literal["completed", "failed", "running"]


@dataclass(frozen=True)
class UserRecord:
    """A sandbox user and the one API token it authenticates with."""

    id: str
    email: str
    name: str
    token: str
    scope: Scope = "write"
    admin: bool = False
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComputationRecord:
    """A finished (or failed) run whose results a data asset can be created from."""

    id: str
    owner_id: str
    kind: ComputationKind
    created: int
    state: ComputationState = "completed"
    capsule_id: str | None = None
    pipeline_id: str | None = None
    run_script: str | None = None
    commit: str | None = None
    docker_image: str | None = None
    result_files: int = 1
    result_size: int = 0
    nextflow_profile: str | None = None
    # Data assets attached to the run: a result captured from it lists them as its inputs.
    data_assets: tuple[str, ...] = ()


@dataclass
class AssetRecord:
    """One data asset as the server holds it.

    The first block mirrors the API's DataAsset (docs/codeocean-api.md §5.1, JSON-ready values:
    ``provenance``, ``source_bucket`` and friends are plain dicts). The second block is server-side
    state the API never returns directly: archive flag, sharing, favourites, and when a draft
    becomes ready (or fails).
    """

    id: str
    created: int
    name: str
    mount: str
    owner_id: str
    state: AssetState
    type: AssetType
    last_used: int = 0
    files: int | None = None
    size: int | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    source_bucket: dict[str, Any] | None = None
    custom_metadata: dict[str, Any] | None = None
    app_parameters: list[dict[str, str]] | None = None
    nextflow_profile: str | None = None
    contained_data_assets: list[dict[str, Any]] | None = None
    last_transferred: int | None = None
    transfer_error: str | None = None
    failure_reason: str | None = None

    # Server-side state.
    archived: bool = False
    # Epoch seconds at which a draft settles; None means it is already settled.
    settles_at: float | None = None
    # What a draft settles into: "ready", or "failed" with settle_failure_reason.
    settle_failure_reason: str | None = None
    shared_users: dict[str, UserRole] = field(default_factory=dict)  # email -> role (owner excluded)
    shared_groups: dict[str, GroupRole] = field(default_factory=dict)  # group -> role
    everyone: EveryoneRole = "none"
    share_assets: bool = False
    favorited_by: set[str] = field(default_factory=set)  # user ids
    # Release pipelines that use the asset: a transfer needs force=true while non-empty.
    used_by_release_pipelines: bool = False
    # For a capture of a computation or cloud workstation: the run and the folder it holds
    # (files.capture_source), from which its file tree is rebuilt. None for every other asset.
    captured_from: dict[str, Any] | None = None
