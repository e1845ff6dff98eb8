"""Content-addressed storage of archived certificate PDFs.

A file's path comes from the sha256 of its bytes, so identical certificates share one file, a file is
written once, and nothing ever overwrites it. The `ArchivedCertificate` row (unique sha256) is what
archives reference (PROTECT); a file goes only when no archive references its row any more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from ..models import ArchivedCertificate

DIRECTORY = "archive/certificates"


def path_for(sha256: str) -> str:
    """archive/certificates/ab/cd/abcd….pdf — two levels of fan-out keep directories small."""
    return f"{DIRECTORY}/{sha256[:2]}/{sha256[2:4]}/{sha256}.pdf"


def read_live_file(name: str) -> bytes | None:
    """The bytes of a live certificate file, or None when it has no file (not rendered yet, or gone)."""
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_content(content: bytes) -> tuple[str, str]:
    """Store the bytes under their sha256 path unless a file is already there; returns (sha256, path)."""
    sha256 = hashlib.sha256(content).hexdigest()
    path = path_for(sha256)
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(content))
        if saved != path:
            # Another writer stored the same content meanwhile: same bytes, keep theirs.
            default_storage.delete(saved)
    return sha256, path


def store_contents(contents: Iterable[bytes]) -> dict[str, tuple[str, int]]:
    """Write every distinct content once; {sha256: (path, size)}. The engine get-or-creates the rows
    (`ArchivedCertificate`, unique sha256) in its snapshot statement."""
    files: dict[str, tuple[str, int]] = {}
    for content in contents:
        sha256, path = write_content(content)
        files[sha256] = (path, len(content))
    return files


def verify(certificate: ArchivedCertificate) -> bool:
    """True when the stored file is there and its bytes still hash to the recorded sha256."""
    try:
        with default_storage.open(certificate.file.name, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest() == certificate.sha256
    except FileNotFoundError:
        return False
