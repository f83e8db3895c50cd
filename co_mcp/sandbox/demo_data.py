"""Realistic, deterministic demo users, computations and data assets for the sandbox.

``generate(n, seed=..., now=...)`` returns the same assets for the same arguments. Its first assets are
*anchors*: hand-written assets with fixed ids (``DEMO_DATASET_ID`` and friends) that tests and the guided
demo can rely on whatever the seed; the rest are drawn from themed templates (single-cell genomics, GWAS,
two-photon imaging, electron microscopy, Neuropixels, proteomics, fMRI, pathology, trained models).

Conventions the sandbox core can rely on:

- every ``owner_id`` is the id of a non-admin user of ``users``; ``shared_users`` keys are e-mails of other
  known users (never the owner's); group names come from ``KNOWN_GROUPS``; ``favorited_by`` holds only
  users who can see the asset;
- result assets reference a generated ``ComputationRecord`` in ``provenance["computation"]``, whose
  ``data_assets`` (the run's inputs) are the result's ``provenance["data_assets"]``: datasets older than
  the run that its owner may open; a result's files are its run's (``captured_from``);
- combined assets hold two or more older assets their owner may open, with distinct mounts, and their
  size and file count are the sums of their parts;
- drafts settle shortly after ``now`` (``settles_at`` 20-90 s later, a few into ``failed``) so a fresh
  sandbox shows drafts turning ready; ``failed`` assets carry ``failure_reason`` (naming their source)
  and no size;
- ``custom_metadata`` follows ``CUSTOM_METADATA_SCHEMA`` and, when present, always holds the required
  ``modality`` field; ``multiple`` fields hold a list of strings.

The demo agrees with itself: an asset's species (``_ORGANISMS``) decides the words of its name (mouse,
donors, zebrafish...), its tissues, brain regions, cell lines and cohorts, the reference genome and
ethics sentence of its description, and its ``species`` metadata; a result or combined asset is named
after its inputs and shares their species; a description names only files its asset holds and never
repeats a sentence; tags that exclude one another (published, preprint) never meet.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import gc
import itertools
import random
import re
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from co_mcp.sandbox.files import family_digits
from co_mcp.sandbox.records import (
    AssetRecord,
    AssetState,
    AssetType,
    ComputationKind,
    ComputationRecord,
    EveryoneRole,
    GroupRole,
    UserRecord,
    UserRole,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# --- users ------------------------------------------------------------------------------------------

ALICE_ID: Final = "a11ce5e0-5a4d-4b0c-9d1e-0000000a11ce"
BOB_ID: Final = "b0b5e0b0-3c2a-4e1f-8a7b-000000000b0b"
CAROL_ID: Final = "ca401e00-7d3f-4a2b-b6c5-0000000ca401"
ADMIN_ID: Final = "ad313000-1e2d-4c3b-a4f5-00000000ad31"

PRIMARY_TOKEN: Final = "cop_sandbox_token"  # noqa: S105 - a published sandbox token, not a secret
READONLY_TOKEN: Final = "cop_sandbox_readonly"  # noqa: S105 - idem
BOB_TOKEN: Final = "cop_sandbox_bob"  # noqa: S105 - idem
CAROL_TOKEN: Final = "cop_sandbox_carol"  # noqa: S105 - idem
ADMIN_TOKEN: Final = "cop_sandbox_admin"  # noqa: S105 - idem

DEFAULT_USERS: Final[tuple[UserRecord, ...]] = (
    UserRecord(ALICE_ID, "alice@example.org", "Alice Moreau", PRIMARY_TOKEN, groups=("genomics",)),
    UserRecord(BOB_ID, "bob@example.org", "Bob Okafor", BOB_TOKEN, groups=("genomics", "imaging")),
    UserRecord(CAROL_ID, "carol@example.org", "Carol Lindqvist", CAROL_TOKEN, groups=("imaging",)),
    # Alice again, through a read-only token: same identity, narrower scope.
    UserRecord(ALICE_ID, "alice@example.org", "Alice Moreau", READONLY_TOKEN, scope="read", groups=("genomics",)),
    UserRecord(ADMIN_ID, "admin@example.org", "Sandbox Admin", ADMIN_TOKEN, admin=True),
)

KNOWN_GROUPS: Final[tuple[str, ...]] = ("genomics", "imaging", "neuroscience", "ad-group")


def with_primary_token(users: Sequence[UserRecord], token: str) -> tuple[UserRecord, ...]:
    """Return ``users`` with the primary user's write token (alice's, by default) replaced by ``token``."""
    primary = _primary(users)
    return tuple(dataclasses.replace(u, token=token) if u is primary else u for u in users)


def _primary(users: Sequence[UserRecord]) -> UserRecord:
    # The primary user is the first non-admin user holding a write token: alice in DEFAULT_USERS.
    for user in users:
        if user.scope == "write" and not user.admin:
            return user
    raise ValueError("users needs at least one non-admin user with a write-scope token")


# --- computations -----------------------------------------------------------------------------------

DEMO_COMPUTATION_ID: Final = "c0de0001-6f1a-4c2e-9b3d-5e7a00000001"
"""Alice's completed capsule run (``code/run.sh``, 12 result files): create a result asset from it."""
DEMO_FAILED_COMPUTATION_ID: Final = "c0de0002-6f1a-4c2e-9b3d-5e7a00000002"
"""Alice's failed capsule run: creating an asset from it should be refused."""
DEMO_CLOUD_WORKSTATION_ID: Final = "c0de0003-6f1a-4c2e-9b3d-5e7a00000003"
"""Alice's *running* cloud workstation session: the source of a cloud_workstation capture."""
DEMO_PIPELINE_COMPUTATION_ID: Final = "c0de0004-6f1a-4c2e-9b3d-5e7a00000004"
"""Alice's completed Nextflow pipeline run (profile ``docker``)."""
DEMO_BOB_COMPUTATION_ID: Final = "c0de0005-6f1a-4c2e-9b3d-5e7a00000005"
"""Bob's completed capsule run: another user's computation, for permission checks."""
DEMO_RUNNING_COMPUTATION_ID: Final = "c0de0006-6f1a-4c2e-9b3d-5e7a00000006"
"""Alice's capsule run still in progress: its results are not ready to capture."""

# --- anchor assets (fixed ids whatever the seed; present when n is large enough) --------------------

DEMO_DATASET_ID: Final = "da7a0001-2b3c-4d5e-8f60-a1b2c3d40010"
"""Alice's ready internal dataset ``scRNA-seq PBMC 10k donors batch 3``, shared with bob, favourite."""
DEMO_RESULT_ID: Final = "da7a0002-2b3c-4d5e-8f60-a1b2c3d40020"
"""Alice's result asset (cell-type annotation) whose input is ``DEMO_DATASET_ID``."""
DEMO_EXTERNAL_ID: Final = "da7a0003-2b3c-4d5e-8f60-a1b2c3d40032"
"""Alice's external dataset kept on S3 (``source_bucket.external`` true): not listable."""
DEMO_SHARED_ID: Final = "da7a0004-2b3c-4d5e-8f60-a1b2c3d40042"
"""Bob's two-photon imaging session shared with alice as editor."""
DEMO_COMBINED_ID: Final = "da7a0005-2b3c-4d5e-8f60-a1b2c3d40057"
"""Alice's combined asset holding ``DEMO_DATASET_ID`` and ``DEMO_SHARED_ID``."""
DEMO_ARCHIVED_ID: Final = "da7a0006-2b3c-4d5e-8f60-a1b2c3d40061"
"""Alice's archived GWAS summary statistics."""
DEMO_DRAFT_ID: Final = "da7a0007-2b3c-4d5e-8f60-a1b2c3d40070"
"""Alice's draft that settles into ``ready`` 30 s after ``now``."""
DEMO_FAILED_ID: Final = "da7a0008-2b3c-4d5e-8f60-a1b2c3d40084"
"""Alice's failed import (``failure_reason`` set)."""
DEMO_PRIVATE_ID: Final = "da7a0009-2b3c-4d5e-8f60-a1b2c3d40092"
"""Carol's private dataset, shared with nobody: invisible to alice."""
DEMO_RELEASE_ID: Final = "da7a000a-2b3c-4d5e-8f60-a1b2c3d400a0"
"""Alice's dataset used by a release pipeline: transferring it needs ``force``."""
DEMO_MODEL_ID: Final = "da7a000b-2b3c-4d5e-8f60-a1b2c3d400b7"
"""Alice's trained model asset, visible to everyone."""

ANCHOR_IDS: Final[tuple[str, ...]] = (
    DEMO_DATASET_ID,
    DEMO_RESULT_ID,
    DEMO_EXTERNAL_ID,
    DEMO_SHARED_ID,
    DEMO_COMBINED_ID,
    DEMO_ARCHIVED_ID,
    DEMO_DRAFT_ID,
    DEMO_FAILED_ID,
    DEMO_PRIVATE_ID,
    DEMO_RELEASE_ID,
    DEMO_MODEL_ID,
)

# --- custom metadata schema -------------------------------------------------------------------------

MODALITIES: Final[tuple[str, ...]] = (
    "scRNA-seq",
    "bulk RNA-seq",
    "whole-genome sequencing",
    "genotyping array",
    "ATAC-seq",
    "ChIP-seq",
    "mass spectrometry",
    "two-photon imaging",
    "electron microscopy",
    "light-sheet microscopy",
    "fMRI",
    "extracellular electrophysiology",
    "histology",
    "derived",
)
SPECIES: Final[tuple[str, ...]] = (
    "Homo sapiens",
    "Mus musculus",
    "Macaca mulatta",
    "Danio rerio",
    "Drosophila melanogaster",
)
INSTRUMENTS: Final[tuple[str, ...]] = (
    "Illumina NovaSeq 6000",
    "Illumina NextSeq 2000",
    "10x Genomics Chromium X",
    "Illumina Infinium GSA",
    "Thermo Orbitrap Exploris 480",
    "Bruker timsTOF Pro 2",
    "Bruker Ultima 2Pplus",
    "Thorlabs Bergamo II",
    "Zeiss GeminiSEM 460",
    "Zeiss Lightsheet 7",
    "Siemens MAGNETOM Prisma 3T",
    "IMEC Neuropixels 2.0",
    "Leica Aperio GT 450",
    "HPC cluster",
)

CUSTOM_METADATA_SCHEMA: Final[dict[str, Any]] = {
    "fields": [
        {
            "name": "modality",
            "type": "string",
            "allowed_values": list(MODALITIES),
            "category": "Experiment",
            "required": True,
        },
        {"name": "species", "type": "string", "allowed_values": list(SPECIES), "category": "Experiment"},
        {
            "name": "sample_count",
            "type": "number",
            "range": {"min": 1, "max": 1_000_000},
            "units": "samples",
            "category": "Experiment",
        },
        {"name": "acquisition_date", "type": "date", "category": "Experiment"},
        {
            "name": "instruments",
            "type": "string",
            "allowed_values": list(INSTRUMENTS),
            "multiple": True,
            "category": "Experiment",
        },
        {"name": "project_code", "type": "string", "category": "Administrative"},
        {"name": "principal_investigator", "type": "string", "category": "Administrative"},
        {
            "name": "retention_years",
            "type": "number",
            "range": {"min": 1, "max": 25},
            "units": "years",
            "category": "Compliance",
        },
    ],
    "categories": ["Experiment", "Administrative", "Compliance"],
}

# --- generation -------------------------------------------------------------------------------------


@dataclass
class DemoData:
    """What ``generate`` produces: assets plus the computations that results (and users) refer to."""

    assets: list[AssetRecord] = field(default_factory=list)
    computations: list[ComputationRecord] = field(default_factory=list)


@dataclass(frozen=True)
class _Organism:
    """What an asset's species decides in its name and description, so the two never disagree.

    ``slots`` gives species-specific values for name-template slots (tissues, brain regions, cell
    lines, cohorts, tasks, conditions); ``words`` are fixed slot values (the common name, the
    reference genome, the ethics sentence).
    """

    words: dict[str, str]
    slots: dict[str, tuple[str, ...]]


_HUMAN_ETHICS: Final = "Participants gave informed consent under protocol {protocol}."
_ANIMAL_ETHICS: Final = "All procedures were approved under animal protocol {animal_protocol}."
_ANIMAL_CONDITIONS: Final = ("LPS", "hypoxia", "aged", "knockout", "sham", "fasted", "post-injury", "naive")

_ORGANISMS: Final[dict[str, _Organism]] = {
    "Homo sapiens": _Organism(
        {"animal": "human", "subjects": "donors", "genome": "GRCh38", "ethics": _HUMAN_ETHICS},
        {
            "tissue": ("PBMC", "lung", "liver", "kidney", "heart", "bone marrow", "colon", "skin", "tonsil"),
            "region": ("prefrontal cortex", "hippocampus", "V1", "motor cortex", "cerebellum", "striatum"),
            "cell_line": ("HEK293T", "K562", "HeLa", "A549", "MCF7", "iPSC-CM", "Jurkat"),
            "condition": ("LPS", "hypoxia", "aged", "fasted", "IFN-gamma", "smokers"),
            "task": ("n-back", "stop-signal", "movie watching", "reward learning"),
            "mri_cohort": ("HCP", "ABCD", "UKB", "Cam-CAN", "NKI Rockland"),
        },
    ),
    "Mus musculus": _Organism(
        {"animal": "mouse", "subjects": "mice", "genome": "GRCm39", "ethics": _ANIMAL_ETHICS, "atlas": "CCFv3"},
        {
            "tissue": ("spleen", "lung", "liver", "kidney", "heart", "bone marrow", "colon", "skin", "retina"),
            "region": ("V1", "S1", "M1", "CA1", "PFC", "LGN", "striatum", "cerebellum", "thalamus", "SC"),
            "cell_line": ("NIH/3T3", "RAW 264.7", "E14 mESC", "Neuro-2a", "C2C12"),
            "condition": _ANIMAL_CONDITIONS,
            "task": ("visual discrimination", "foraging", "passive viewing", "licking task"),
            "cohort": ("C57BL/6J aging cohort", "Diversity Outbred cohort", "BXD cohort"),
        },
    ),
    "Macaca mulatta": _Organism(
        {"animal": "macaque", "subjects": "macaques", "genome": "Mmul_10", "ethics": _ANIMAL_ETHICS},
        {
            "region": ("V1", "V4", "MT", "LIP", "PFC", "IT cortex"),
            "condition": ("naive", "trained", "sham"),
            "task": ("fixation", "movie watching", "reward learning"),
            "mri_cohort": ("PRIME-DE", "NHP colony A"),
        },
    ),
    "Danio rerio": _Organism(
        {
            "animal": "zebrafish",
            "subjects": "fish",
            "genome": "GRCz11",
            "ethics": _ANIMAL_ETHICS,
            "atlas": "mapZebrain",
        },
        {
            "tissue": ("whole larva", "fin", "liver", "heart", "brain"),
            "cell_line": ("ZF4", "PAC2"),
            "condition": _ANIMAL_CONDITIONS,
        },
    ),
    "Drosophila melanogaster": _Organism(
        {
            "animal": "fly",
            "subjects": "flies",
            "genome": "BDGP6",
            "ethics": "Flies were raised at 25 C on standard food.",
        },
        {
            "region": ("mushroom body", "antennal lobe", "optic lobe", "central complex", "ventral nerve cord"),
            "condition": _ANIMAL_CONDITIONS,
        },
    ),
}


@dataclass(frozen=True)
class _Theme:
    """One scientific area: how its assets are named, tagged, described and sized.

    Templates and sentences fill ``{slots}`` from ``_Slots``; slots that depend on the species come
    from its ``_Organism``, so a theme lists only species its templates make sense for.
    """

    key: str
    family: str  # files.FAMILIES entry: the folder layout of its assets, encoded in their ids
    modality: str
    species: tuple[str, ...]  # drawn with these weights (repeat one to weigh it more)
    instruments: tuple[str, ...]
    tags: tuple[str, ...]
    datasets: tuple[str, ...]  # name templates, filled by _Slots
    results: tuple[str, ...]
    models: tuple[str, ...]
    combined: tuple[str, ...]
    sentences: tuple[str, ...]
    log10_size: tuple[float, float]  # dataset size range, log10 bytes
    log10_files: tuple[float, float]
    weight: int


_THEMES: Final[tuple[_Theme, ...]] = (
    _Theme(
        "scrna",
        "sequencing",
        "scRNA-seq",
        ("Homo sapiens", "Homo sapiens", "Mus musculus"),
        ("10x Genomics Chromium X", "Illumina NovaSeq 6000"),
        ("genomics", "transcriptomics", "scrna-seq", "single-cell", "10x"),
        (
            "scRNA-seq {tissue} {k}k cells {subjects} batch {batch}",
            "10x Chromium {tissue} single-cell atlas {animal} v{ver}",
            "snRNA-seq {region} {animal} replicate {rep}",
            "CITE-seq {tissue} {condition} panel {batch}",
        ),
        (
            "Cell type annotation {tissue} (scVI + CellTypist)",
            "Clustering and UMAP {tissue} batch {batch}",
            "Cell Ranger counts {tissue} {k}k cells",
            "Differential abundance {tissue} {condition} vs control",
        ),
        ("scVI model {tissue} atlas v{ver}", "CellTypist classifier {tissue} immune v{ver}"),
        ("{tissue} atlas combined batches 1-{batch}",),
        (
            "Libraries were prepared with the 10x Genomics Chromium Single Cell 3' v3.1 kit.",
            "Reads were aligned to {genome} with Cell Ranger 7.1.",
            "Cells with fewer than 200 detected genes or more than 15% mitochondrial reads were removed.",
            "Ambient RNA was corrected with CellBender before doublet removal with scDblFinder.",
            "{ethics}",
        ),
        (9.0, 11.8),
        (1.0, 3.0),
        16,
    ),
    _Theme(
        "bulk",
        "sequencing",
        "bulk RNA-seq",
        ("Homo sapiens", "Mus musculus", "Danio rerio"),
        ("Illumina NovaSeq 6000", "Illumina NextSeq 2000"),
        ("genomics", "transcriptomics", "rna-seq", "bulk"),
        (
            "Bulk RNA-seq {tissue} {condition} time course",
            "RNA-seq {cell_line} {treatment} vs DMSO {hours}h",
            "Total RNA-seq {tissue} {animal} cohort {batch}",
        ),
        (
            "DESeq2 differential expression {cell_line} {treatment}",
            "Salmon quantification {tissue} {condition}",
            "Gene set enrichment {tissue} {condition} (fgsea)",
        ),
        (),
        ("RNA-seq {cell_line} screens combined {year}", "{tissue} RNA-seq {condition} series combined {year}"),
        (
            "Paired-end 2x150 bp reads, ribosomal RNA depleted.",
            "Reads were aligned to {genome} with STAR 2.7.10b and counted with featureCounts.",
            "Samples were collected at {hours} hours post treatment in biological triplicate.",
        ),
        (8.5, 11.0),
        (1.0, 2.6),
        12,
    ),
    _Theme(
        "gwas",
        "variants",
        "genotyping array",
        ("Homo sapiens",),
        ("Illumina Infinium GSA",),
        ("genomics", "gwas", "human", "statistical-genetics"),
        ("GWAS summary statistics {trait} {biobank}", "Imputed genotypes {biobank} release {ver}"),
        (
            "Fine-mapping credible sets {trait} (SuSiE)",
            "LD score regression {trait} vs {trait2}",
            "Polygenic score weights {trait} {biobank}",
        ),
        ("Polygenic risk model {trait} {biobank} v{ver}",),
        ("{biobank} genotypes all chromosomes",),
        (
            "Summary statistics are on GRCh38 and harmonised to the GWAS Catalog format.",
            "Variants with INFO < 0.8 or minor allele frequency below 0.1% were excluded.",
            "Access is restricted under data access agreement {agreement}.",
        ),
        (8.0, 12.3),
        (0.5, 2.2),
        7,
    ),
    _Theme(
        "wgs",
        "variants",
        "whole-genome sequencing",
        ("Homo sapiens",),
        ("Illumina NovaSeq 6000",),
        ("genomics", "wgs", "human", "statistical-genetics"),
        ("WGS {biobank} cohort joint-called VCF chr{chrom}", "Exome sequencing {disease} trios batch {batch}"),
        ("Variant annotation {biobank} chr{chrom} (VEP)", "Rare variant burden tests {disease} batch {batch}"),
        (),
        ("{biobank} WGS all chromosomes",),
        (
            "Variants were joint-called with GATK 4.4 against GRCh38.",
            "Samples with more than 2% contamination (VerifyBamID) were excluded.",
            "Access is restricted under data access agreement {agreement}.",
        ),
        (9.0, 12.5),
        (0.8, 2.4),
        4,
    ),
    _Theme(
        "atac",
        "sequencing",
        "ATAC-seq",
        ("Homo sapiens", "Mus musculus"),
        ("Illumina NovaSeq 6000", "Illumina NextSeq 2000"),
        ("genomics", "epigenomics", "atac-seq"),
        ("ATAC-seq {cell_type} chromatin accessibility rep {rep}", "scATAC-seq {tissue} {animal} batch {batch}"),
        ("Differential accessibility {cell_type} {condition}", "TF footprinting {cell_type} (TOBIAS)"),
        (),
        ("{cell_type} ATAC-seq replicates combined",),
        (
            "Tn5 insertion sites were shifted +4/-5 bp before analysis.",
            "Reads were aligned to {genome} with Bowtie2.",
            "Peaks were called with MACS2 (q < 0.01) and filtered against the ENCODE blacklist.",
        ),
        (8.8, 11.3),
        (1.0, 2.4),
        3,
    ),
    _Theme(
        "chip",
        "sequencing",
        "ChIP-seq",
        ("Homo sapiens", "Mus musculus"),
        ("Illumina NovaSeq 6000", "Illumina NextSeq 2000"),
        ("genomics", "epigenomics", "chip-seq"),
        ("ChIP-seq {histone} {cell_type}", "ChIP-seq {histone} {cell_type} batch {batch}"),
        ("MACS2 peaks {histone} {cell_type}", "Differential binding {histone} {condition} (DiffBind)"),
        (),
        ("{cell_type} epigenome combined marks",),
        (
            "Reads were aligned to {genome} with Bowtie2.",
            "Peaks were called with MACS2 (q < 0.01) and filtered against the ENCODE blacklist.",
        ),
        (8.8, 11.3),
        (1.0, 2.4),
        3,
    ),
    _Theme(
        "proteomics",
        "proteomics",
        "mass spectrometry",
        ("Homo sapiens", "Mus musculus"),
        ("Thermo Orbitrap Exploris 480", "Bruker timsTOF Pro 2"),
        ("proteomics", "mass-spec"),
        (
            "TMT proteomics {tissue} plex {batch}",
            "DIA mass spec {cell_line} phosphoproteome",
            "Plasma proteomics {animal} {condition} pilot {batch}",
        ),
        ("MaxQuant search {tissue} plex {batch}", "Phosphosite quantification {cell_line} {treatment}"),
        (),
        ("{tissue} TMT plexes 1-{batch} combined",),
        (
            "Spectra were searched against the UniProt reference proteome of {species} (2024_01) at 1% FDR.",
            "Samples were labelled with TMTpro 16plex and fractionated into 24 fractions.",
        ),
        (9.0, 11.5),
        (1.2, 2.8),
        6,
    ),
    _Theme(
        "twophoton",
        "imaging",
        "two-photon imaging",
        ("Mus musculus",),
        ("Bruker Ultima 2Pplus", "Thorlabs Bergamo II"),
        ("imaging", "two-photon", "calcium-imaging", "neuroscience", "mouse"),
        (
            "Mouse {region} two-photon imaging session {session}",
            "Calcium imaging GCaMP8m {region} mouse {subject}",
            "Two-photon {region} dendrites {condition} day {day}",
        ),
        (
            "Suite2p ROIs {region} session {session}",
            "Motion-corrected stacks {region} mouse {subject}",
            "Orientation tuning analysis {region} cohort {batch}",
        ),
        ("Cellpose model {region} somata v{ver}",),
        ("{region} imaging sessions {session}-{session2} combined",),
        (
            "Imaging at 30 Hz through a cranial window, 512x512 pixels, 920 nm excitation.",
            "Mice were head-fixed and presented drifting gratings at 8 orientations.",
            "{ethics}",
        ),
        (9.5, 12.0),
        (1.0, 3.2),
        12,
    ),
    _Theme(
        "em",
        "volume_em",
        "electron microscopy",
        ("Mus musculus", "Drosophila melanogaster"),
        ("Zeiss GeminiSEM 460",),
        ("imaging", "electron-microscopy", "connectomics", "neuroscience"),
        ("Serial-section EM {animal} {region} volume {batch}", "FIB-SEM {animal} {region} block {rep}"),
        ("Segmentation {region} volume {batch} (flood-filling)", "Synapse detections {region} volume {batch}"),
        ("Membrane segmentation network {animal} {region} v{ver}",),
        ("{animal} {region} EM volumes combined",),
        (
            "Voxel size 4 x 4 x 40 nm, stored as 1024^3 chunks.",
            "Sections were imaged with a multi-beam SEM and aligned elastically.",
        ),
        (11.0, 12.9),
        (2.0, 4.0),
        3,
    ),
    _Theme(
        "lightsheet",
        "imaging",
        "light-sheet microscopy",
        ("Mus musculus", "Danio rerio"),
        ("Zeiss Lightsheet 7",),
        ("imaging", "microscopy", "light-sheet", "whole-brain"),
        (
            "Cleared {animal} brain light-sheet {stain} sample {rep}",
            "Whole-brain light-sheet {stain} {animal} cohort {batch}",
        ),
        ("Cell counts registered to {atlas} sample {rep}",),
        (),
        ("Light-sheet {animal} brains cohort {batch} combined",),
        ("Brains were cleared with iDISCO+ and imaged at 1.8 um isotropic resolution.", "{ethics}"),
        (10.5, 12.5),
        (1.5, 3.5),
        4,
    ),
    _Theme(
        "fmri",
        "mri",
        "fMRI",
        ("Homo sapiens", "Homo sapiens", "Macaca mulatta"),
        ("Siemens MAGNETOM Prisma 3T",),
        ("imaging", "mri", "fmri", "neuroscience", "bids"),
        (
            "fMRI resting state {mri_cohort} subjects {sub}-{sub2}",
            "Task fMRI {task} {mri_cohort} BIDS release {ver}",
        ),
        ("fMRIPrep derivatives {mri_cohort} subjects {sub}-{sub2}", "Connectivity matrices {task} {mri_cohort}"),
        (),
        ("{mri_cohort} MRI sessions combined",),
        ("Data are organised in BIDS 1.8.", "Multiband EPI, TR 800 ms, 2 mm isotropic voxels.", "{ethics}"),
        (9.5, 12.0),
        (1.5, 3.3),
        6,
    ),
    _Theme(
        "ephys",
        "ephys",
        "extracellular electrophysiology",
        ("Mus musculus", "Mus musculus", "Macaca mulatta"),
        ("IMEC Neuropixels 2.0",),
        ("ephys", "neuropixels", "neuroscience", "nwb"),
        (
            "Neuropixels {region} recordings {animal} {subject} day {day}",
            "Acute silicon probe {region} {animal} {condition} session {session}",
        ),
        ("Spike-sorted units {region} {animal} {subject} (Kilosort4)", "Population decoding {region} {task}"),
        ("Kilosort4 templates {region} v{ver}",),
        ("{region} recordings {subjects} {subject}-{subject2} combined",),
        (
            "Recorded at 30 kHz; files are NWB 2.6 with raw and LFP streams.",
            "Units passing Bombcell quality metrics are labelled 'good'.",
            "{ethics}",
        ),
        (10.0, 12.4),
        (0.8, 2.5),
        8,
    ),
    _Theme(
        "pathology",
        "imaging",
        "histology",
        ("Homo sapiens",),
        ("Leica Aperio GT 450",),
        ("imaging", "histology", "pathology", "tumour"),
        ("Whole-slide H&E {organ} tumour cohort {batch}", "IHC {marker} {organ} biopsies {year}"),
        ("Tile embeddings {organ} cohort {batch} (UNI)", "Tumour segmentation masks {organ} cohort {batch}"),
        ("Tumour classifier {organ} ViT-B v{ver}",),
        ("{organ} pathology cohorts combined",),
        ("Slides were scanned at 40x (0.25 um/pixel) and stored as pyramidal TIFF.", "{ethics}"),
        (10.0, 12.6),
        (1.5, 3.0),
        5,
    ),
)

# Model and result assets are computed, so their modality is "derived" half of the time.
_STAGE_TAGS: Final = ("raw", "processed", "qc", "intermediate", "final")
_EXTRA_TAGS: Final = (
    "published",
    "preprint",
    "internal",
    "public",
    "benchmark",
    "reference",
    "atlas",
    "pilot",
    "v1",
    "v2",
    "deprecated",
    "do-not-delete",
    "embargoed",
    "collaborator",
    "core-facility",
    "hpc",
    "nextflow",
    "snakemake",
    "needs-review",
    "paper-figure",
    "grant-r01",
    "cohort",
    "longitudinal",
    "replication",
    "training-data",
    "validation",
    "ml",
)
_GENERIC_SENTENCES: Final = (
    "Contact {pi} before using these data in a publication.",
    "Generated as part of project {project}.",
    "Processed on the institute HPC cluster.",
    "Used for figure {figure} of the manuscript in preparation.",
    "Shared with collaborators under the data use agreement of project {project}.",
)
# Sentences true only of some assets' files (files.py decides what a tree holds): (type, minimum files).
_FILE_SENTENCES: Final[dict[str, tuple[int, str]]] = {
    "dataset": (2, "The README describes the folder layout and column definitions."),
    "result": (4, "Run status and metrics are in summary.json; the console log is in output."),
    "model": (4, "Training metrics per epoch are in metrics.csv."),
}
_TRANSFER_ERRORS: Final = (
    "AccessDenied: the target bucket does not allow PutObject for the Code Ocean role.",
    "Transfer cancelled: the asset is attached to a running cloud workstation.",
)
_BUCKETS: Final = (
    "acme-genomics-raw",
    "acme-imaging-archive",
    "lab-shared-data",
    "openneuro.org",
    "allen-brain-observatory",
    "ukb-summary-stats",
    "acme-results",
    "gs-biobank-exports",
)
_RUN_SCRIPTS: Final = ("code/run.sh", "code/run", "code/main.py", "code/run_analysis.R", "code/run.m")
_DOCKER_IMAGES: Final = (
    "codeocean/mambaforge3:23.1.0-4-python3.10.12-ubuntu22.04",
    "codeocean/pytorch:2.1.0-cuda11.8.0-mambaforge23.1.0-4-python3.10.12-ubuntu22.04",
    "codeocean/r-studio:2022.07.0-548-r4.2.1-ubuntu18.04",
    "codeocean/jupyterlab:3.6.1-miniconda4.12.0-python3.9-ubuntu20.04",
    "codeocean/matlab:2023b-ubuntu22.04",
)
_NEXTFLOW_PROFILES: Final = ("standard", "docker", "aws_batch", "slurm")
_APP_PARAMETERS: Final = (
    ("min_genes", ("200", "300", "500")),
    ("resolution", ("0.4", "0.8", "1.2")),
    ("n_pcs", ("30", "50")),
    ("fdr", ("0.01", "0.05")),
    ("seed", ("0", "42", "1234")),
    ("batch_key", ("donor", "sample", "plate")),
    ("frame_rate", ("15", "30")),
    ("threshold", ("0.5", "0.9")),
    ("genome", ("GRCh38", "GRCm39")),
)
_PIS: Final = ("Dr. N. Achebe", "Prof. L. Ferreira", "Dr. S. Nakamura", "Prof. H. Jensen", "Dr. R. Mehta")

# Values for the {slots} in name templates and sentences that do not depend on the species (those
# come from _ORGANISMS); each is drawn only if the template uses it.
_SLOT_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "treatment": ("dexamethasone", "TNF-alpha", "rapamycin", "cisplatin", "IFN-gamma"),
    "trait": ("height", "BMI", "LDL cholesterol", "type 2 diabetes", "schizophrenia", "eGFR", "asthma"),
    "trait2": ("educational attainment", "coronary artery disease", "HbA1c", "depression"),
    "biobank": ("UKB", "FinnGen R10", "All of Us", "TOPMed", "Biobank Japan", "MVP"),
    "disease": ("autism", "epilepsy", "congenital heart disease", "ALS"),
    "cell_type": ("CD4 T cells", "monocytes", "hepatocytes", "neurons", "microglia", "cardiomyocytes"),
    "histone": ("H3K27ac", "H3K4me3", "H3K27me3", "CTCF"),
    "stain": ("c-Fos", "NeuN", "GFAP", "TH", "parvalbumin"),
    "marker": ("Ki-67", "PD-L1", "CD8", "HER2"),
    "organ": ("colon", "lung", "breast", "prostate", "kidney", "skin", "liver"),
    "k": ("5", "10", "20", "50", "100"),
    "hours": ("2", "6", "24", "48"),
    "chrom": tuple(str(c) for c in range(1, 23)),
}
_SLOT_RANGES: Final[dict[str, tuple[int, int]]] = {
    "session": (1, 60),
    "subject": (100, 999),
    "sub": (1, 400),
    "batch": (2, 12),
    "rep": (1, 4),
    "day": (1, 14),
    "ver": (1, 6),
}

_T = TypeVar("_T")


class _Rng(random.Random):
    """A seeded PRNG with cheaper draws than ``random.Random``'s ``choice`` and ``randint``, for 100,000 assets.

    Demo data, not secrets: a seeded Mersenne Twister is what makes the output reproducible.
    """

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def between(self, lo: int, hi: int) -> int:
        return lo + int(self.random() * (hi - lo + 1))

    def weighted(self, seq: Sequence[_T], cumulative: Sequence[float]) -> _T:
        return seq[bisect.bisect(cumulative, self.random() * cumulative[-1])]

    def few(self, seq: Sequence[_T], k: int) -> list[_T]:
        """``k`` distinct items in random order (a partial Fisher-Yates; ``sample`` is slower)."""
        pool = list(seq)
        n = len(pool)
        k = min(k, n)
        for i in range(k):
            j = i + int(self.random() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


_TYPES: Final[tuple[AssetType, ...]] = ("dataset", "result", "combined", "model")
_TYPE_WEIGHTS: Final = _cumulative((50, 35, 8, 7))
_THEME_WEIGHTS: Final = _cumulative([t.weight for t in _THEMES])
_USER_ROLES: Final[tuple[UserRole, ...]] = ("viewer", "editor", "owner")
_USER_ROLE_WEIGHTS: Final = _cumulative((60, 35, 5))
_GROUP_ROLES: Final[tuple[GroupRole, ...]] = ("viewer", "editor", "discoverable", "owner")
_GROUP_ROLE_WEIGHTS: Final = _cumulative((50, 25, 20, 5))


class _Slots(dict[str, str]):
    """Fills template slots lazily: a template draws random values only for the slots it uses.

    ``species`` (a key of ``_ORGANISMS``) decides the species-specific slots; ``inherit`` starts from
    another asset's values, so a result is named after its inputs (same tissue, cohort, project...).
    """

    def __init__(self, rng: _Rng, species: str | None = None, inherit: dict[str, str] | None = None) -> None:
        super().__init__(inherit or {})
        self._rng = rng
        self._organism = _ORGANISMS.get(species or "")
        if species:
            self["species"] = species

    def __missing__(self, key: str) -> str:
        rng = self._rng
        organism = self._organism
        if organism is not None and key in organism.words:
            value = organism.words[key].format_map(self)
        elif organism is not None and key in organism.slots:
            value = rng.pick(organism.slots[key])
        elif key in _SLOT_VALUES:
            value = rng.pick(_SLOT_VALUES[key])
        elif key in _SLOT_RANGES:
            value = str(rng.between(*_SLOT_RANGES[key]))
        elif key in ("session2", "subject2", "sub2"):
            value = str(int(self[key[:-1]]) + rng.between(3, 40))
        elif key == "year":
            value = str(rng.between(2021, 2025))
        elif key == "protocol":
            value = f"IRB-{rng.between(2019, 2024)}-{rng.between(100, 999)}"
        elif key == "agreement":
            value = f"DAA-{rng.between(2019, 2024)}-{rng.between(10, 99)}"
        elif key == "animal_protocol":
            value = f"IACUC-{rng.between(2019, 2024)}-{rng.between(100, 999)}"
        elif key == "pi":
            value = rng.pick(_PIS)
        elif key == "project":
            value = _project_code(rng)
        elif key == "figure":
            value = str(rng.between(1, 7))
        elif key in ("bucket", "prefix"):
            value = rng.pick(_BUCKETS) if key == "bucket" else f"run-{rng.between(1000, 9999)}"
        else:  # pragma: no cover - a template typo; fail loudly rather than emit "{slot}"
            raise KeyError(key)
        self[key] = value
        return value


# Slots that say what an asset is about (the tissue, the cohort...), as opposed to counters and versions.
_IDENTITY_SLOTS: Final = frozenset(
    {
        "tissue",
        "region",
        "cell_line",
        "cell_type",
        "condition",
        "treatment",
        "trait",
        "biobank",
        "mri_cohort",
        "disease",
        "histone",
        "organ",
        "stain",
        "marker",
        "task",
        "chrom",
    }
)


@functools.lru_cache(maxsize=256)
def _identity_slots(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name in _IDENTITY_SLOTS)


def _identity(slots: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, value) for key, value in slots.items() if key in _IDENTITY_SLOTS))


_MOUNT_JUNK: Final = re.compile(r"[^a-z0-9]+")
_YEAR: Final = 365 * 86400


def _mount(name: str) -> str:
    return _MOUNT_JUNK.sub("_", name.lower()).strip("_")[:48].rstrip("_") or "data"


def _uuid(rng: _Rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _asset_id(rng: _Rng, family: str) -> str:
    # The last hex digit tells files.py which folder layout to give the asset (see files.family_of).
    return _uuid(rng)[:-1] + rng.pick(family_digits(family))


def _hex40(rng: _Rng) -> str:
    return f"{rng.getrandbits(160):040x}"


def _project_code(rng: _Rng) -> str:
    return f"{rng.pick(('GEN', 'NEU', 'IMG', 'PRT', 'CLN'))}-{rng.between(2021, 2025)}-{rng.between(1, 99):03d}"


@dataclass
class _Cast:
    """The users generate() draws from: owners (weighted, primary first) and who can be shared with."""

    primary: UserRecord
    owners: list[UserRecord]
    weights: tuple[float, ...]  # cumulative, for _Rng.weighted
    emails: dict[str, str]  # user id -> e-mail for every distinct non-admin user
    groups: dict[str, tuple[str, ...]]  # user id -> groups

    @classmethod
    def of(cls, users: Sequence[UserRecord]) -> _Cast:
        primary = _primary(users)
        distinct: dict[str, UserRecord] = {}
        for user in users:
            if not user.admin:
                # The first record of an identity wins: the read-only alias never replaces the write one.
                distinct.setdefault(user.id, user)
        owners = [primary, *(u for uid, u in distinct.items() if uid != primary.id)]
        # The primary user owns a little over half the assets; the others share the rest evenly.
        rest = len(owners) - 1
        weights = _cumulative([0.55, *[0.45 / rest] * rest] if rest else [1.0])
        return cls(
            primary,
            owners,
            weights,
            {u.id: u.email for u in owners},
            {u.id: u.groups for u in owners},
        )

    def can_open(self, asset: AssetRecord, user_id: str) -> bool:
        """Whether ``user_id`` may open the asset's files (attach or combine it): discoverable is not enough."""
        if asset.owner_id == user_id or asset.everyone == "viewer":
            return True
        if self.emails.get(user_id) in asset.shared_users:
            return True
        groups = self.groups.get(user_id, ())
        return any(role != "discoverable" for group, role in asset.shared_groups.items() if group in groups)

    def other(self, owner_id: str, index: int = 0) -> UserRecord | None:
        others = [u for u in self.owners if u.id != owner_id]
        return others[index % len(others)] if others else None


def generate(n: int, *, seed: int = 0, users: Sequence[UserRecord] = DEFAULT_USERS, now: int) -> DemoData:
    """Generate ``n`` assets (anchors first) and their computations, deterministically for ``seed``.

    ``now`` anchors every timestamp: assets are created over the three years before it, drafts settle
    just after it. The extra computations (``DEMO_COMPUTATION_ID`` and friends) are always included.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    cast = _Cast.of(users)
    anchors = _anchors(cast, now)[:n]
    out = DemoData(computations=_extra_computations(cast, now, {anchor.id for anchor in anchors}))
    out.assets.extend(anchors)
    out.computations.extend(c for c in _anchor_computations(cast, now) if any(_computed_by(a, c) for a in anchors))
    # The cyclic GC rescans the growing heap of fresh records again and again (a third of the time at
    # 100k assets) and finds nothing to free: nothing generated here forms a cycle.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _Generator(_Rng(seed), cast, now, out).run(n - len(anchors))
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def _computed_by(asset: AssetRecord, computation: ComputationRecord) -> bool:
    return bool(asset.provenance and asset.provenance.get("computation") == computation.id)


class _Generator:
    """Draws themed assets in creation order, so inputs and contained assets always pre-exist."""

    def __init__(self, rng: _Rng, cast: _Cast, now: int, out: DemoData) -> None:
        self.rng = rng
        self.cast = cast
        self.now = now
        self.out = out
        # Recent internal datasets/results per theme and species, candidates for inputs and combined
        # parts, with the slot values they were named with (their results are named alike).
        self.pool: dict[tuple[str, str], list[AssetRecord]] = {
            (t.key, species): [] for t in _THEMES for species in t.species
        }
        self.slots_of: dict[str, _Slots] = {}
        self.identity_of: dict[str, tuple[tuple[str, str], ...]] = {}
        self.openers: dict[str, frozenset[str]] = {}  # who may open each pooled asset
        self.capsules = [(_uuid(rng), rng.pick(_RUN_SCRIPTS), rng.pick(_DOCKER_IMAGES)) for _ in range(24)]
        self.pipelines = [_uuid(rng) for _ in range(6)]

    def run(self, count: int) -> None:
        rng = self.rng
        # Creation times, skewed towards recent; sorted so that pool members are older than their users.
        span = 3 * _YEAR
        times = sorted(self.now - int(span * rng.random() ** 1.6) for _ in range(count))
        types = _TYPES
        for created in times:
            theme = rng.weighted(_THEMES, _THEME_WEIGHTS)
            kind = rng.weighted(types, _TYPE_WEIGHTS)
            if kind == "model" and not theme.models:
                kind = "result"
            self.out.assets.append(self.asset(theme, kind, created))

    def asset(self, theme: _Theme, kind: AssetType, created: int) -> AssetRecord:
        rng = self.rng
        owner = rng.weighted(self.cast.owners, self.cast.weights)
        species = rng.pick(theme.species)
        computed = kind == "result" or (kind == "model" and rng.random() < 0.5)
        kind, inputs, run_created = self.inputs(theme, species, owner.id, kind, computed=computed, created=created)
        # A result or combined asset is named after its (first) input: same tissue, cohort, project;
        # among its templates, those that name only what the input had are preferred.
        inherited = self.slots_of.get(inputs[0].id) if inputs else None
        slots = _Slots(rng, species, inherited)
        templates: Sequence[str] = {
            "dataset": theme.datasets,
            "result": theme.results,
            "combined": theme.combined,
            "model": theme.models,
        }[kind]
        if inherited:
            templates = [t for t in templates if _identity_slots(t) <= inherited.keys()] or templates
        name = rng.pick(templates).format_map(slots)
        lo, hi = theme.log10_size
        if kind == "result":
            lo, hi = lo - 2.0, hi - 1.0  # results are usually much smaller than their inputs
        elif kind == "model":
            lo, hi = 6.5, 10.5
        size = int(10 ** rng.uniform(lo, hi))
        flo, fhi = theme.log10_files
        files = max(1, min(size // 512, int(10 ** rng.uniform(flo, fhi))))
        asset = AssetRecord(
            id=_asset_id(rng, theme.family),
            created=created,
            name=name,
            mount=_mount(name),
            owner_id=owner.id,
            state="ready",
            type=kind,
            files=files,
            size=size,
            description=self.description(theme, slots, kind, files),
            tags=self.tags(theme, kind, created),
            custom_metadata=self.metadata(theme, kind, created, slots),
        )
        asset.last_used = 0 if rng.random() < 0.3 else created + int((self.now - created) * rng.random())
        if kind == "combined":
            self.combine(asset, inputs)
        elif computed:
            self.computed(asset, theme, inputs, run_created)
        else:
            self.origin(asset)
        self.state(asset)
        self.share(asset)
        if asset.state == "ready" and asset.type in ("dataset", "result") and not self.external(asset):
            pool = self.pool[(theme.key, species)]
            pool.append(asset)
            self.slots_of[asset.id] = slots
            self.identity_of[asset.id] = _identity(slots)
            self.openers[asset.id] = frozenset(u.id for u in self.cast.owners if self.cast.can_open(asset, u.id))
            if len(pool) > 40:  # only recent assets are inputs; keeps choice() cheap at 100k assets
                for old in pool[:20]:
                    del self.slots_of[old.id], self.identity_of[old.id], self.openers[old.id]
                del pool[:20]
        return asset

    def inputs(
        self, theme: _Theme, species: str, owner_id: str, kind: AssetType, *, computed: bool, created: int
    ) -> tuple[AssetType, list[AssetRecord], int]:
        """What a new asset is made from: a run's inputs (and the run's time) or a combined asset's parts.

        Only what the owner may open of the same science and species qualifies; a combined asset with
        fewer than two candidates becomes a dataset.
        """
        rng = self.rng
        if not computed and kind != "combined":
            return kind, [], 0
        usable = [a for a in self.pool[(theme.key, species)] if owner_id in self.openers[a.id]]
        if kind == "combined":
            # Members are folders named by their mounts: one member per mount, and two or more of them.
            distinct = list({a.mount: a for a in usable}.values())
            if len(distinct) < 2:
                return "dataset", [], 0
            return kind, self.alike(distinct, rng.between(2, 6)), 0
        # A run reads datasets that existed before it.
        run_created = created - rng.between(300, 6 * 3600)
        older = [a for a in usable if a.type == "dataset" and a.created < run_created]
        return kind, self.alike(older, rng.between(1, 3)) if older else [], run_created

    def alike(self, candidates: list[AssetRecord], count: int) -> list[AssetRecord]:
        """Up to ``count`` of ``candidates``: a random first one, then those of the same subject first."""
        first = self.rng.pick(candidates)
        mine = self.identity_of.get(first.id)
        same: list[AssetRecord] = []
        others: list[AssetRecord] = []
        for candidate in candidates:
            if candidate is not first:
                (same if self.identity_of.get(candidate.id) == mine else others).append(candidate)
        chosen = [first, *self.rng.few(same, count - 1)]
        return chosen + self.rng.few(others, count - len(chosen))

    @staticmethod
    def external(asset: AssetRecord) -> bool:
        return bool(asset.source_bucket and asset.source_bucket.get("external"))

    def description(self, theme: _Theme, slots: _Slots, kind: AssetType, files: int) -> str | None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.15:
            return None
        if roll < 0.2:
            return ""
        count = 1 if roll < 0.55 else (3 if roll < 0.9 else 7)
        pool = theme.sentences + _GENERIC_SENTENCES
        least, about_files = _FILE_SENTENCES.get(kind, (0, ""))
        if about_files and files >= least:
            pool += (about_files,)
        # Distinct sentences: a description never says the same thing twice.
        sentences = [sentence.format_map(slots) for sentence in rng.few(pool, count)]
        if len(sentences) > 4:  # long descriptions come as paragraphs, as people write them
            return " ".join(sentences[:3]) + "\n\n" + " ".join(sentences[3:])
        return " ".join(sentences)

    def tags(self, theme: _Theme, kind: AssetType, created: int) -> list[str]:
        rng = self.rng
        tags = rng.few(theme.tags, rng.between(1, len(theme.tags)))
        tags.append(rng.pick(_STAGE_TAGS[:2] if kind == "dataset" else _STAGE_TAGS[1:]))
        if kind == "model":
            tags.append("model")
        roll = rng.random()
        extra = 0 if roll < 0.3 else (rng.between(1, 3) if roll < 0.95 else rng.between(12, 18))
        for tag in rng.few(_EXTRA_TAGS, extra):
            # At most one tag of each group that excludes the others (published or preprint...).
            if not any(other in tags for other in _EXCLUDED_BY.get(tag, ())):
                tags.append(tag)
        if rng.random() < 0.1:  # a year tag is the year the asset was made
            tags.append(str(time.gmtime(created).tm_year))
        return list(dict.fromkeys(tags))  # keeps order, drops repeats

    def metadata(self, theme: _Theme, kind: AssetType, created: int, slots: _Slots) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() < 0.12:
            return None
        derived = kind in ("result", "model") and rng.random() < 0.5
        meta: dict[str, Any] = {"modality": "derived" if derived else theme.modality}
        if rng.random() < 0.85:
            meta["species"] = slots["species"]
        if rng.random() < 0.6:
            meta["sample_count"] = rng.pick((1, 2, 3, 4, 6, 8, 12, 16, 24, 48, 96, 384, 1200, 12000))
        if rng.random() < 0.7:
            meta["acquisition_date"] = created - rng.between(0, 120) * 86400
        if rng.random() < 0.5:
            meta["instruments"] = rng.few(theme.instruments, rng.between(1, len(theme.instruments)))
        if rng.random() < 0.7:
            meta["project_code"] = slots["project"]
        if rng.random() < 0.5:
            meta["principal_investigator"] = slots["pi"]
        if rng.random() < 0.3:
            meta["retention_years"] = rng.pick((3, 5, 7, 10, 25))
        return meta

    def origin(self, asset: AssetRecord) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            asset.source_bucket = {"origin": "local"}
        elif roll < 0.8:
            asset.source_bucket = {"origin": "aws", "bucket": rng.pick(_BUCKETS), "prefix": _prefix(rng, asset)}
        elif roll < 0.88:
            asset.source_bucket = {"origin": "gcp", "bucket": "gs-biobank-exports", "prefix": _prefix(rng, asset)}
        else:
            asset.source_bucket = {
                "origin": "aws",
                "bucket": rng.pick(_BUCKETS),
                "prefix": _prefix(rng, asset),
                "external": True,
            }
            if rng.random() < 0.2:  # once internal, moved out by an admin transfer
                asset.last_transferred = asset.created + int((self.now - asset.created) * rng.random())
        if not self.external(asset) and rng.random() < 0.01:
            asset.transfer_error = rng.pick(_TRANSFER_ERRORS)

    def computed(self, asset: AssetRecord, theme: _Theme, inputs: list[AssetRecord], created: int) -> None:
        rng = self.rng
        pipeline = rng.random() < 0.25
        # The run's id picks the file layout of its results, as an asset id does (files.family_of).
        comp_id = _asset_id(rng, theme.family)
        if pipeline:
            profile = rng.pick(_NEXTFLOW_PROFILES)
            computation = ComputationRecord(
                comp_id,
                asset.owner_id,
                "pipeline",
                created,
                pipeline_id=rng.pick(self.pipelines),
                commit=_hex40(rng),
                result_files=asset.files or 1,
                result_size=asset.size or 0,
                nextflow_profile=profile,
                data_assets=tuple(a.id for a in inputs),
            )
            asset.nextflow_profile = profile
            provenance: dict[str, Any] = {"computation": comp_id, "commit": computation.commit}
        else:
            capsule_id, run_script, image = rng.pick(self.capsules)
            computation = ComputationRecord(
                comp_id,
                asset.owner_id,
                "capsule",
                created,
                capsule_id=capsule_id,
                run_script=run_script,
                commit=_hex40(rng),
                docker_image=image,
                result_files=asset.files or 1,
                result_size=asset.size or 0,
                data_assets=tuple(a.id for a in inputs),
            )
            provenance = {
                "capsule": capsule_id,
                "computation": comp_id,
                "commit": computation.commit,
                "run_script": run_script,
                "docker_image": image,
            }
            if rng.random() < 0.4:
                params = rng.few(_APP_PARAMETERS, rng.between(1, 4))
                asset.app_parameters = [{"name": name, "value": rng.pick(values)} for name, values in params]
        provenance["data_assets"] = [a.id for a in inputs]
        asset.provenance = provenance
        if asset.type == "result":  # the whole run was captured: its files are the run's results
            asset.captured_from = {
                "run": comp_id,
                "kind": computation.kind,
                "files": computation.result_files,
                "size": computation.result_size,
                "path": "",
            }
        self.out.computations.append(computation)
        if rng.random() < 0.1:  # written straight to the lab's bucket via a create target
            asset.source_bucket = {
                "origin": "aws",
                "bucket": "acme-results",
                "prefix": f"capsule-results/{comp_id}",
                "external": True,
            }
        else:
            asset.source_bucket = {"origin": "local"}

    def combine(self, asset: AssetRecord, parts: list[AssetRecord]) -> None:
        asset.contained_data_assets = [{"id": p.id, "mount": p.mount, "size": p.size or 0} for p in parts]
        asset.size = sum(p.size or 0 for p in parts)
        asset.files = sum(p.files or 0 for p in parts)
        asset.source_bucket = {"origin": "local"}

    def state(self, asset: AssetRecord) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            # A draft created moments ago, settling shortly after the sandbox starts.
            asset.state = "draft"
            asset.created = self.now - rng.between(5, 120)
            asset.last_used = 0
            asset.settles_at = float(self.now + rng.between(20, 90))
            if rng.random() < 0.2:
                asset.settle_failure_reason = _failure_reason(rng, asset)
        elif roll < 0.05:
            asset.state = "failed"
            asset.failure_reason = _failure_reason(rng, asset)
            asset.files = None
            asset.size = None
            asset.last_used = 0
        elif roll < 0.13:
            asset.archived = True
        if asset.state == "ready" and not asset.archived and rng.random() < 0.03:
            asset.used_by_release_pipelines = True

    def share(self, asset: AssetRecord) -> None:
        rng = self.rng
        cast = self.cast
        viewers = {asset.owner_id}
        if rng.random() < 0.35:
            for other in rng.few(cast.owners, len(cast.owners)):
                if other.id != asset.owner_id and rng.random() < 0.6:
                    role = rng.weighted(_USER_ROLES, _USER_ROLE_WEIGHTS)
                    asset.shared_users[other.email] = role
                    viewers.add(other.id)
        if rng.random() < 0.2:
            for group in rng.few(KNOWN_GROUPS, rng.between(1, 2)):
                group_role = rng.weighted(_GROUP_ROLES, _GROUP_ROLE_WEIGHTS)
                asset.shared_groups[group] = group_role
                if group_role != "discoverable":  # discoverable members see it in search, cannot open it
                    viewers.update(uid for uid, groups in cast.groups.items() if group in groups)
        roll = rng.random()
        everyone: EveryoneRole = "viewer" if roll < 0.08 else ("discoverable" if roll < 0.13 else "none")
        asset.everyone = everyone
        if everyone == "viewer":
            viewers.update(cast.emails)
        asset.share_assets = bool(asset.shared_users or asset.shared_groups) and rng.random() < 0.3
        for uid in sorted(viewers):
            if rng.random() < (0.12 if uid == asset.owner_id else 0.06):
                asset.favorited_by.add(uid)


# Groups of tags that exclude one another: an asset carries at most one tag of each.
_EXCLUSIVE_TAGS: Final = (
    ("published", "preprint", "embargoed"),
    ("public", "internal", "embargoed"),
    ("v1", "v2"),
    ("deprecated", "do-not-delete"),
    ("training-data", "validation"),
)


_EXCLUDED_BY: Final[dict[str, frozenset[str]]] = {
    tag: frozenset(other for group in _EXCLUSIVE_TAGS if tag in group for other in group)
    for group in _EXCLUSIVE_TAGS
    for tag in group
}


def _failure_reason(rng: _Rng, asset: AssetRecord) -> str:
    """Why creating ``asset`` failed, in terms of where its files were coming from."""
    source = asset.source_bucket or {}
    bucket, prefix = source.get("bucket", ""), source.get("prefix", "")
    if source.get("origin") == "aws":
        return rng.pick(
            (
                f"Access denied reading s3://{bucket}/{prefix}: check the bucket policy grants Code Ocean read access.",
                f"Bucket {bucket} is in region eu-west-2 but no credentials are configured for it.",
                "Copy interrupted after 3 retries: connection reset by peer while reading the source bucket.",
            )
        )
    if source.get("origin") == "gcp":
        return f"Access denied reading gs://{bucket}/{prefix}: check the service account can read the bucket."
    if asset.provenance is not None:
        return rng.pick(
            (
                "Copying the computation's results was interrupted: the copy node was restarted.",
                "Data asset storage quota exceeded for this deployment.",
            )
        )
    return "Data asset storage quota exceeded for this deployment."


def _prefix(rng: _Rng, asset: AssetRecord) -> str:
    return f"{asset.mount}/{rng.pick(('raw', 'v1', 'v2', 'export', str(rng.between(2021, 2025))))}"


def _extra_computations(cast: _Cast, now: int, present: set[str]) -> list[ComputationRecord]:
    """The named runs; ``present`` are the anchor ids generated, of which runs attach the relevant ones."""
    alice = cast.primary.id
    bob = (cast.other(alice, 0) or cast.primary).id
    carol = (cast.other(alice, 1) or cast.primary).id
    capsule = "cafe0001-8e2b-4f3c-a1d4-00000000ca51"
    image = _DOCKER_IMAGES[0]
    commit = "4f2d8c1e9b7a6d5c3e2f1a0b9c8d7e6f5a4b3c2d"
    hour = 3600

    def comp(
        suffix: str, owner: str, kind: ComputationKind, age: int, inputs: tuple[str, ...] = (), **extra: Any
    ) -> ComputationRecord:
        attached = tuple(asset_id for asset_id in inputs if asset_id in present)
        run_id = f"c0de{suffix}-6f1a-4c2e-9b3d-5e7a0000{suffix}"
        return ComputationRecord(run_id, owner, kind, now - age, data_assets=attached, **extra)

    pbmc_and_reference = (DEMO_DATASET_ID, DEMO_RELEASE_ID)

    capsule_run = {"capsule_id": capsule, "run_script": "code/run.sh", "commit": commit, "docker_image": image}
    pipeline_run = {"pipeline_id": "b1be0001-8e2b-4f3c-a1d4-00000000b1be", "commit": commit[::-1]}
    return [
        comp(
            "0001",
            alice,
            "capsule",
            2 * hour,
            pbmc_and_reference,
            result_files=12,
            result_size=356_482_117,
            **capsule_run,
        ),
        comp("0002", alice, "capsule", 3 * hour, (DEMO_DATASET_ID,), state="failed", result_files=0, **capsule_run),
        comp(
            "0003",
            alice,
            "cloud_workstation",
            hour,
            (DEMO_SHARED_ID,),
            state="running",
            result_files=40,
            result_size=2_147_483_648,
        ),
        comp(
            "0004",
            alice,
            "pipeline",
            26 * hour,
            pbmc_and_reference,
            result_files=318,
            result_size=48_318_382_080,
            nextflow_profile="docker",
            **pipeline_run,
        ),
        comp(
            "0005", bob, "capsule", 5 * hour, (DEMO_SHARED_ID,), result_files=7, result_size=12_582_912, **capsule_run
        ),
        comp("0006", alice, "capsule", 600, (DEMO_DATASET_ID,), state="running", result_files=0, **capsule_run),
        comp(
            "0007",
            alice,
            "capsule",
            50 * hour,
            (DEMO_MODEL_ID, DEMO_DATASET_ID),
            result_files=3,
            result_size=88_412,
            **capsule_run,
        ),
        comp(
            "0008",
            carol,
            "pipeline",
            72 * hour,
            (DEMO_PRIVATE_ID,),
            result_files=64,
            result_size=9_663_676_416,
            **pipeline_run,
        ),
        comp("0009", bob, "cloud_workstation", 30 * hour, (DEMO_SHARED_ID,), result_files=15, result_size=734_003_200),
        # A run with nothing attached: its results have no inputs.
        comp("0010", alice, "capsule", 8 * 24 * hour, (), result_files=1, result_size=4_096, **capsule_run),
    ]


_ANCHOR_RESULT_COMPUTATION: Final = "c0de00a2-6f1a-4c2e-9b3d-5e7a000000a2"


def _anchor_computations(cast: _Cast, now: int) -> list[ComputationRecord]:
    return [
        ComputationRecord(
            _ANCHOR_RESULT_COMPUTATION,
            cast.primary.id,
            "capsule",
            now - 40 * 86400 - 2 * 3600,  # the run that produced DEMO_RESULT_ID, two hours before it
            capsule_id="cafe0002-8e2b-4f3c-a1d4-00000000ca52",
            run_script="code/run.sh",
            commit="9c1f3e5a7b2d4c6e8f0a1b3c5d7e9f2a4b6c8d0e",
            docker_image=_DOCKER_IMAGES[1],
            result_files=9,
            result_size=1_288_490_189,
            data_assets=(DEMO_DATASET_ID,),
        )
    ]


def _anchors(cast: _Cast, now: int) -> list[AssetRecord]:
    alice = cast.primary
    bob = cast.other(alice.id, 0)
    carol = cast.other(alice.id, 1)
    day = 86400

    def make(
        asset_id: str,
        name: str,
        age_days: float,
        *,
        type: AssetType = "dataset",
        state: AssetState = "ready",
        owner: UserRecord = alice,
        files: int | None = 24,
        size: int | None = 1_073_741_824,
        **extra: Any,
    ) -> AssetRecord:
        created = now - int(age_days * day)
        return AssetRecord(
            id=asset_id,
            created=created,
            name=name,
            mount=_mount(name),
            owner_id=owner.id,
            state=state,
            type=type,
            files=files,
            size=size,
            last_used=0 if state != "ready" else created + int(age_days * day * 0.6),
            **extra,
        )

    pbmc = make(
        DEMO_DATASET_ID,
        "scRNA-seq PBMC 10k donors batch 3",
        410,
        files=36,
        size=19_756_849_152,
        description=(
            "Peripheral blood mononuclear cells from 8 healthy donors, 10x Chromium 3' v3.1, "
            "sequenced on a NovaSeq 6000 S4 flow cell. FASTQs and Cell Ranger 7.1 outputs."
        ),
        tags=["genomics", "scrna-seq", "10x", "pbmc", "raw", "human"],
        source_bucket={"origin": "local"},
        custom_metadata={
            "modality": "scRNA-seq",
            "species": "Homo sapiens",
            "sample_count": 8,
            "acquisition_date": now - 430 * day,
            "instruments": ["10x Genomics Chromium X", "Illumina NovaSeq 6000"],
            "project_code": "GEN-2024-017",
            "principal_investigator": "Dr. S. Nakamura",
        },
        favorited_by={alice.id},
    )
    if bob:
        pbmc.shared_users = {bob.email: "viewer"}
    annotation = make(
        DEMO_RESULT_ID,
        "Cell type annotation PBMC 10k (scVI + CellTypist)",
        40,
        type="result",
        files=9,
        size=1_288_490_189,
        description="Annotated AnnData object, UMAP embeddings and marker gene tables.",
        tags=["genomics", "scrna-seq", "processed", "pbmc", "paper-figure"],
        custom_metadata={"modality": "derived", "species": "Homo sapiens", "project_code": "GEN-2024-017"},
        provenance={
            "capsule": "cafe0002-8e2b-4f3c-a1d4-00000000ca52",
            "computation": _ANCHOR_RESULT_COMPUTATION,
            "commit": "9c1f3e5a7b2d4c6e8f0a1b3c5d7e9f2a4b6c8d0e",
            "run_script": "code/run.sh",
            "docker_image": _DOCKER_IMAGES[1],
            "data_assets": [DEMO_DATASET_ID],
        },
        app_parameters=[{"name": "resolution", "value": "0.8"}, {"name": "min_genes", "value": "200"}],
    )
    external = make(
        DEMO_EXTERNAL_ID,
        "Allen Brain Observatory two-photon sessions (S3 mirror)",
        700,
        files=5_812,
        size=2_968_174_526_464,
        description="Read-only mirror of the public Visual Coding 2P release; files stay in the source bucket.",
        tags=["imaging", "two-photon", "public", "reference", "mouse"],
        source_bucket={
            "origin": "aws",
            "bucket": "allen-brain-observatory",
            "prefix": "visual-coding-2p",
            "external": True,
        },
        custom_metadata={"modality": "two-photon imaging", "species": "Mus musculus"},
    )
    anchors = [pbmc, annotation, external]
    if bob:
        shared = make(
            DEMO_SHARED_ID,
            "Mouse V1 two-photon imaging session 42",
            120,
            owner=bob,
            files=118,
            size=412_316_860_416,
            description="GCaMP8m in layer 2/3 of V1, drifting gratings, 30 Hz, 45 min.",
            tags=["imaging", "two-photon", "calcium-imaging", "raw", "mouse", "neuroscience"],
            source_bucket={"origin": "local"},
            custom_metadata={
                "modality": "two-photon imaging",
                "species": "Mus musculus",
                "instruments": ["Bruker Ultima 2Pplus"],
                "acquisition_date": now - 125 * day,
            },
            shared_users={alice.email: "editor"},
            shared_groups={"imaging": "viewer"},
        )
    else:  # a single-user cast: the asset is alice's own
        shared = make(DEMO_SHARED_ID, "Mouse V1 two-photon imaging session 42", 120, files=118)
    anchors.append(shared)
    anchors.append(
        make(
            DEMO_COMBINED_ID,
            "PBMC and V1 pilot combined inputs",
            30,
            type="combined",
            files=(pbmc.files or 0) + (shared.files or 0),
            size=(pbmc.size or 0) + (shared.size or 0),
            tags=["combined", "pilot"],
            contained_data_assets=[
                {"id": pbmc.id, "mount": pbmc.mount, "size": pbmc.size},
                {"id": shared.id, "mount": shared.mount, "size": shared.size},
            ],
        )
    )
    anchors.append(
        make(
            DEMO_ARCHIVED_ID,
            "GWAS summary statistics height UKB (2019 release)",
            1000,
            files=23,
            size=14_495_514_624,
            description="Superseded by the 2023 meta-analysis; kept for reproducibility of the 2020 paper.",
            tags=["genomics", "gwas", "human", "deprecated"],
            source_bucket={"origin": "aws", "bucket": "ukb-summary-stats", "prefix": "height/2019"},
            custom_metadata={"modality": "genotyping array", "species": "Homo sapiens", "sample_count": 456_426},
            archived=True,
        )
    )
    draft = make(
        DEMO_DRAFT_ID,
        "Bulk RNA-seq liver fasting time course",
        0.0005,
        state="draft",
        files=48,
        size=96_636_764_160,
        tags=["genomics", "rna-seq", "raw"],
        source_bucket={"origin": "aws", "bucket": "acme-genomics-raw", "prefix": "liver-fasting"},
    )
    draft.settles_at = float(now + 30)
    anchors.append(draft)
    anchors.append(
        make(
            DEMO_FAILED_ID,
            "Neuropixels CA1 recordings mouse 311 day 4",
            2,
            state="failed",
            files=None,
            size=None,
            tags=["ephys", "neuropixels", "raw"],
            source_bucket={"origin": "aws", "bucket": "lab-shared-data", "prefix": "np/311/day4"},
            failure_reason=(
                "Access denied reading s3://lab-shared-data/np/311/day4: check the bucket policy grants "
                "Code Ocean read access."
            ),
        )
    )
    anchors.append(
        make(
            DEMO_PRIVATE_ID,
            "Whole-slide H&E colon tumour cohort 2 (unpublished)",
            60,
            owner=carol or alice,
            files=212,
            size=311_385_128_960,
            tags=["histology", "pathology", "embargoed"],
            source_bucket={"origin": "local"},
            custom_metadata={"modality": "histology", "species": "Homo sapiens", "retention_years": 10},
        )
    )
    anchors.append(
        make(
            DEMO_RELEASE_ID,
            "GRCh38 reference genome and STAR index",
            900,
            files=14,
            size=32_212_254_720,
            description="Reference used by the weekly RNA-seq release pipeline. Do not modify.",
            tags=["genomics", "reference", "do-not-delete"],
            source_bucket={"origin": "local"},
            custom_metadata={"modality": "derived", "species": "Homo sapiens"},
            used_by_release_pipelines=True,
            shared_groups={"genomics": "viewer"},
        )
    )
    anchors.append(
        make(
            DEMO_MODEL_ID,
            "CellTypist immune classifier PBMC v2",
            20,
            type="model",
            files=4,
            size=52_428_800,
            description="Logistic-regression classifier for 32 immune cell types.",
            tags=["model", "scrna-seq", "ml", "public"],
            source_bucket={"origin": "local"},
            custom_metadata={"modality": "derived", "species": "Homo sapiens"},
            everyone="viewer",
        )
    )
    return anchors
