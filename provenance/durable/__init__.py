"""Durable Content Credentials: soft bindings, manifest repository, recovery, the resolver client.

The resolution server (:mod:`provenance.durable.server`) needs the ``server`` extra and is imported
from its own module."""

from provenance.durable.repository import (
    FINGERPRINT_MAX_DISTANCE,
    Binding,
    Match,
    Repository,
    RepositoryError,
    StoredManifest,
)
from provenance.durable.resolver import (
    DEFAULT_TIMEOUT,
    MAX_MANIFEST_BYTES,
    LocalSource,
    RemoteMatch,
    ResolverClient,
    ResolverError,
    detect_watermark,
    recover,
)
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    IMAGE_MEDIA_TYPES,
    SUPPORTED_ALGS,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
    DeclaredBinding,
    Published,
    PublishError,
    declared_bindings,
    manifest_id_hex,
    new_manifest_id,
    publish,
    soft_binding_assertions,
    watermark_image_bytes,
    watermark_video_bytes,
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
