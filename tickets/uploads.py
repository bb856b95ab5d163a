"""Checks on uploaded files: size limit, an allow-list of types, and a safe display name.

The extension must be on the allow-list and the file's content must match it (sniffed by
`filetype`), so a renamed executable is refused.
"""

import os
import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

import filetype

# extension -> acceptable sniffed MIME types (None: a text file, checked as UTF-8 without NUL)
ALLOWED_TYPES: dict[str, tuple[str, ...] | None] = {
    ".pdf": ("application/pdf",),
    ".png": ("image/png",),
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".gif": ("image/gif",),
    ".webp": ("image/webp",),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/zip",
    ),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/zip",
    ),
    ".pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/zip",
    ),
    ".zip": ("application/zip",),
    ".txt": None,
    ".csv": None,
    ".log": None,
    ".md": None,
}
TEXT_CONTENT_TYPES = {
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".log": "text/plain",
    ".md": "text/markdown",
}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 200


class UploadRejected(ValueError):
    pass


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    extension: str
    content_type: str
    size: int


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


def safe_filename(name: str) -> str:
    """A display name with no directory part, control or path characters, at most 200 chars."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = "file"
    stem, ext = os.path.splitext(name)
    return stem[: 200 - len(ext)] + ext.lower()


def check_upload(name: str, stream: BinaryIO, size: int, max_bytes: int) -> CheckedUpload:
    if size > max_bytes:
        raise UploadRejected(f"is larger than the limit of {_human_size(max_bytes)}")
    if size == 0:
        raise UploadRejected("is empty")
    # Django's multipart parser already keeps only the base name of an uploaded file; names
    # from elsewhere (the service is the one gate) with a path or control characters, or too
    # long to show, are refused rather than silently renamed.
    raw = name or ""
    if "/" in raw or "\\" in raw or re.match(r"^[A-Za-z]:", raw):
        raise UploadRejected("has a path in its name")
    if _CONTROL.search(raw):
        raise UploadRejected("has control characters in its name")
    if len(raw) > MAX_NAME_LENGTH:
        raise UploadRejected(f"name is longer than {MAX_NAME_LENGTH} characters")
    filename = safe_filename(name)
    extension = os.path.splitext(filename)[1].lower()
    if extension not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        raise UploadRejected(f"type {extension or '(none)'} is not allowed; allowed: {allowed}")
    stream.seek(0)
    head = stream.read(8192)
    stream.seek(0)
    expected = ALLOWED_TYPES[extension]
    if expected is None:
        if b"\x00" in head:
            raise UploadRejected("content is not text although the name says so")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the 8 KiB boundary is fine; anything else is not text.
            if error.start < len(head) - 4:
                raise UploadRejected(
                    "content is not UTF-8 text although the name says so"
                ) from None
        content_type = TEXT_CONTENT_TYPES[extension]
    else:
        kind = filetype.guess(head)
        if kind is None or kind.mime not in expected:
            raise UploadRejected(f"content does not match its {extension} extension")
        content_type = expected[0]
    return CheckedUpload(
        filename=filename, extension=extension, content_type=content_type, size=size
    )
