"""What every download shares: the one `Content-Disposition` builder and the file response built with it."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from django.http import FileResponse

# Kept as they are in a file name; anything else (quotes, semicolons, slashes, control characters) becomes "_",
# so a name taken from data (a plan code, a username) can neither end the header value nor change the extension.
_UNSAFE = re.compile(r"[^\w.() -]", flags=re.UNICODE)


def attachment_disposition(filename: str) -> str:
    """`attachment` with a safe `filename="…"` (ASCII) and, for a non-ASCII name, `filename*=UTF-8''…` (RFC 6266)."""
    # No leading dot or space: a download must not become a hidden file.
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", filename)).lstrip(" .") or "download"
    letters = (char for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char))
    fallback = "".join(char if char.isascii() else "_" for char in letters)  # "é" → "e", "日" → "_"
    disposition = f'attachment; filename="{fallback}"'
    if not name.isascii():
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return disposition


def file_download(file, *, filename: str, content_type: str) -> FileResponse:
    """An open file as a download named `filename` (the header built by `attachment_disposition`)."""
    response = FileResponse(file, content_type=content_type)
    response["Content-Disposition"] = attachment_disposition(filename)
    return response
