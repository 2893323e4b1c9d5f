"""Request tags: ``x-mesh-tags: k=v,k2=v2`` or the body's ``metadata``, validated and bounded."""

from __future__ import annotations

import re
from typing import Mapping

from llm_mesh.errors import InvalidRequest

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_tags(header: str | None, metadata: Mapping[str, str] | None, max_tags: int, max_length: int) -> dict[str, str]:
    tags: dict[str, str] = {}
    if metadata:
        for key, value in metadata.items():
            tags[str(key)] = str(value)
    if header:
        if len(header) > max_tags * (max_length + 66):
            raise InvalidRequest("x-mesh-tags is too long", param="x-mesh-tags")
        for part in header.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise InvalidRequest("x-mesh-tags must be 'key=value' pairs separated by commas", param="x-mesh-tags")
            tags[key.strip()] = value.strip()
    if len(tags) > max_tags:
        raise InvalidRequest(f"at most {max_tags} request tags are allowed", param="x-mesh-tags")
    for key, value in tags.items():
        if not _KEY.match(key):
            raise InvalidRequest("tag keys are 1-64 letters, digits or _.:-", param="x-mesh-tags")
        if len(value) > max_length or any(ord(c) < 32 for c in value):
            raise InvalidRequest(f"tag values are at most {max_length} printable characters", param="x-mesh-tags")
    return tags
