"""Images for ``%%gemma --image PATH_OR_NAME`` and ``generate(images=[...])``.

Anything image-like becomes a ``data:`` URL (the only form Workers AI accepts, and one every
OpenAI-compatible vision backend takes): a file path, a PIL image, raw bytes, an HTTP
response the user already fetched (anything with ``.content``), an IPython ``Image``, or a
data URL. Nothing is downloaded here. Records keep a hash of each image, never its bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import io
import os
from pathlib import Path
from typing import Any

from ..errors import GemmaError, ValidationError

#: No provider takes a bigger image (OpenAI's limit is 20 MB); a file is measured before it
#: is read.
MAX_IMAGE_BYTES = 20 << 20

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
THUMB_PX = 96


def sniff(data: bytes) -> str | None:
    """The image MIME type from the first bytes (PNG, JPEG, GIF, WebP), or None."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def from_bytes(data: bytes, mime: str | None = None, what: str = "the bytes") -> str:
    """A data URL for image bytes; refuses bytes that are not a known image format."""
    mime = sniff(data) or (mime if mime and mime.startswith("image/") else None)
    if mime is None:
        raise ValidationError(f"{what} are not a PNG, JPEG, GIF or WebP image",
                              fix="pass an image file, bytes or a PIL image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode(url: str) -> tuple[str, bytes]:
    """(mime, bytes) of a base64 data URL; raises ValidationError when it is not one."""
    head, _, payload = url.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64") or not payload:
        raise ValidationError(f"not a base64 image data URL: {url[:40]}…",
                              fix="use data:image/<type>;base64,<data>, a file path or bytes")
    try:
        return head[5:-7], base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("the image data URL is not valid base64",
                              fix="re-encode it, or pass the file path or bytes") from None


def to_data_url(image: Any) -> str:
    """One image (see the module docstring for the accepted kinds) as a data URL."""
    if isinstance(image, str) and image.startswith("data:"):
        decode(image)
        return image
    if isinstance(image, str) and image.startswith(("http://", "https://")):
        raise ValidationError(
            f"{image[:60]} is a web address; images are sent as data, not fetched here",
            fix="download it first (img = httpx.get(url).content) and pass --image img")
    if isinstance(image, (str, os.PathLike)):
        path = Path(image).expanduser()
        if not path.is_file():
            raise ValidationError(f"no image file or notebook variable named {str(image)!r}",
                                  fix="give a file path or the name of a variable")
        import mimetypes

        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ValidationError(
                f"{path} is {size / 1e6:.0f} MB, more than the {MAX_IMAGE_BYTES >> 20} MB any "
                "provider takes", fix="resize it first (PIL: img.thumbnail((1024, 1024)))")
        return from_bytes(path.read_bytes(), mimetypes.guess_type(path.name)[0], str(path))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return from_bytes(bytes(image))
    if hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image
        buffer = io.BytesIO()
        fmt = image.format if image.format in ("PNG", "JPEG", "GIF", "WEBP") else "PNG"
        image.save(buffer, format=fmt)
        return from_bytes(buffer.getvalue())
    content = getattr(image, "content", None)
    if isinstance(content, bytes):  # an httpx / requests response
        headers = getattr(image, "headers", {}) or {}
        return from_bytes(content, headers.get("content-type", "").split(";")[0],
                          "the response body")
    data = getattr(image, "data", None)  # IPython.display.Image
    if isinstance(data, bytes):
        return from_bytes(data)
    raise ValidationError(f"cannot use a {type(image).__name__} as an image",
                          fix="pass a file path, bytes, a PIL image or a data URL")


def to_data_urls(images: Any) -> list[str]:
    """A list (or a single image) as data URLs, in order."""
    if images is None:
        return []
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    return [_named(index, image) for index, image in enumerate(items, 1)]


def _named(index: int, image: Any) -> str:
    """:func:`to_data_url`; an object that misbehaves (a hostile ``__getattr__``) is named
    in one line rather than a traceback."""
    try:
        url = to_data_url(image)
    except GemmaError:
        raise
    except Exception as exc:
        try:
            reason = (str(exc).splitlines() or [""])[0][:200]
        except Exception:
            reason = "(no message)"
        raise ValidationError(
            f"image {index} (a {type(image).__name__}) could not be read: "
            f"{type(exc).__name__}: {reason}",
            fix="pass a file path, bytes, a PIL image or a data URL") from None
    if len(url) * 3 // 4 > MAX_IMAGE_BYTES:
        raise ValidationError(f"image {index} is over {MAX_IMAGE_BYTES >> 20} MB",
                              fix="resize it first (PIL: img.thumbnail((1024, 1024)))")
    return url


def fingerprint(url: str) -> dict[str, Any]:
    """What a record keeps of an image: its type, size and SHA-256, never the bytes."""
    mime, data = decode(url)
    return {"mime": mime, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def caption(url: str, index: int) -> str:
    info = fingerprint(url)
    return (f"image {index}: {info['mime']}, {info['bytes'] / 1024:.1f} KB, "
            f"sha256 {info['sha256'][:12]}")


def thumbnails_bundle(urls: list[str]) -> dict[str, str]:
    """An HTML row of small thumbnails (and a text line per image for terminals)."""
    cells = "".join(
        f'<img src="{u}" title="{html.escape(caption(u, i))}" alt="image {i}" '
        f'style="max-height:{THUMB_PX}px;max-width:{2 * THUMB_PX}px;margin:0 6px 4px 0;'
        f'border:1px solid #ddd;border-radius:3px">'
        for i, u in enumerate(urls, 1))
    text = "\n".join(f"[{caption(u, i)}]" for i, u in enumerate(urls, 1))
    return {"text/html": f'<div class="gemma-images">{cells}</div>', "text/plain": text}


def show_thumbnails(urls: list[str]) -> None:
    """Thumbnails above the answer in a notebook; one line per image in a terminal."""
    if not urls:
        return
    from ..frontend import show

    show(thumbnails_bundle(urls))


def resolve_names(names: list[str], namespace: dict[str, Any]) -> list[Any]:
    """``--image`` values: a notebook variable (an image or a list of them) or a file path."""
    out: list[Any] = []
    for name in names:
        value = namespace.get(name, name) if name.isidentifier() else name
        out.extend(value if isinstance(value, (list, tuple)) else [value])
    return out
