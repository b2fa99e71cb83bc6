"""A test and demo PKI and RFC 3161 time-stamping authority (not for production use)."""

from provenance.testing.pki import (
    C2PA_CLAIM_SIGNING,
    DEFAULT_EE_EKUS,
    Alg,
    Credential,
    Pki,
    make_pki,
)

__all__ = [
    "Alg",
    "C2PA_CLAIM_SIGNING",
    "Credential",
    "DEFAULT_EE_EKUS",
    "Pki",
    "make_pki",
]
