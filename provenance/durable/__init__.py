"""Durable Content Credentials: soft bindings, repository, publishing, detection, recovery.

Layers, each importing only those above it: ``softbinding`` (algorithm names,
identifiers, assertions) and ``receipts`` -> ``repository`` (the SQLite store) and
``client`` (the resolution API client) -> ``resolver`` (sources: client or local
repository) and ``detect`` (watermark and PDQ in content) -> ``publishing`` and
``recovery``; the ``server`` package serves a repository.

The resolution server (:mod:`provenance.durable.server`) needs the ``server`` extra and is imported
from its own module."""

from provenance.durable.client import (
    DEFAULT_TIMEOUT,
    MAX_MANIFEST_BYTES,
    RemoteMatch,
    ResolverClient,
    ResolverError,
)
from provenance.durable.detect import detect_watermark
from provenance.durable.publishing import (
    Published,
    PublishError,
    publish,
    watermark_image_bytes,
    watermark_video_bytes,
)
from provenance.durable.recovery import recover
from provenance.durable.repository import (
    FINGERPRINT_MAX_DISTANCE,
    Binding,
    Match,
    Repository,
    RepositoryError,
    StoredManifest,
)
from provenance.durable.resolver import LocalSource
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    IMAGE_MEDIA_TYPES,
    SUPPORTED_ALGS,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
    DeclaredBinding,
    declared_bindings,
    manifest_id_hex,
    new_manifest_id,
    soft_binding_assertions,
    watermarked_action,
)

__all__ = [
    "Binding",
    "DEFAULT_TIMEOUT",
    "DeclaredBinding",
    "FINGERPRINT_ALG",
    "FINGERPRINT_MAX_DISTANCE",
    "IMAGE_MEDIA_TYPES",
    "LocalSource",
    "MAX_MANIFEST_BYTES",
    "Match",
    "PublishError",
    "Published",
    "RemoteMatch",
    "Repository",
    "RepositoryError",
    "ResolverClient",
    "ResolverError",
    "SUPPORTED_ALGS",
    "StoredManifest",
    "VIDEO_MEDIA_TYPES",
    "WATERMARK_ALG",
    "declared_bindings",
    "detect_watermark",
    "manifest_id_hex",
    "new_manifest_id",
    "publish",
    "recover",
    "soft_binding_assertions",
    "watermark_image_bytes",
    "watermark_video_bytes",
    "watermarked_action",
]
