"""``data:`` URLs (images, files) in OpenAI content parts: parsing into mime type and bytes."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from llm_mesh.errors import InvalidRequest

_DATA_URL = re.compile(r"^data:(?P<mime>[^;,]+)?(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)$", re.DOTALL)
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


@dataclass(frozen=True)
class DataURL:
    mime: str | None  # as written (None when the URL names none)
    data: str  # the base64 text, untouched

    @property
    def media_type(self) -> str | None:
        """The mime type lower-cased when it is a well-formed ``type/subtype``, else None."""
        if self.mime is None or not _MEDIA_TYPE.fullmatch(self.mime):
            return None
        return self.mime.lower()

    def decode(self, message: str = "a data: URL does not hold valid base64", param: str | None = None) -> bytes:
        """The bytes; InvalidRequest(message) when the payload is not valid base64."""
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(message, param=param) from None


def parse_data_url(url: str) -> DataURL | None:
    """A base64 ``data:`` URL's parts, or None for anything else (http(s) links, non-base64 data URLs)."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    return DataURL(mime=match.group("mime"), data=match.group("data"))
