"""Where recovery looks manifests up: the :class:`Source` interface and a local repository.

A :class:`~provenance.durable.client.ResolverClient` (a Soft Binding Resolution API
server) and a :class:`LocalSource` (a :class:`~provenance.durable.repository.Repository`
file) answer the same three questions; :func:`provenance.durable.recovery.recover` asks
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from provenance.durable.client import RemoteMatch
from provenance.durable.repository import Repository

__all__ = ["LocalSource", "Source"]


class Source(Protocol):
    """Something that finds manifests by soft binding and hands out their stores."""

    name: str

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]: ...

    def fetch(self, manifest_id: str) -> bytes | None: ...

    def facts(self, manifest_id: str) -> Mapping[str, Any]: ...


class LocalSource:
    """A local :class:`~provenance.durable.repository.Repository` seen as a resolver."""

    def __init__(self, repo: Repository, *, owned: bool = False) -> None:
        self.repo = repo
        self.name = str(repo.path)
        self.owned = owned
        """Whether this source opened the repository (and closes it)."""

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]:
        return [
            RemoteMatch(m.manifest_id, None, m.similarity)
            for m in self.repo.by_binding(alg, value, max_results=max_results)
        ]

    def fetch(self, manifest_id: str) -> bytes | None:
        return self.repo.get(manifest_id)

    def facts(self, manifest_id: str) -> Mapping[str, Any]:
        info = self.repo.info(manifest_id)
        return dataclasses.asdict(info) if info is not None else {}
