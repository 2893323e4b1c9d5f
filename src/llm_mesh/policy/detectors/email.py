"""Email addresses, matched outward from each '@' (linear time on any input)."""

from __future__ import annotations

import re

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import EMAIL, Finding

_LOCAL_CHAR = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}\Z")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])")
# what follows a domain that ran into the next address's local part ("example.netbob+x@")
_NEXT_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]{0,64}@")
_LEADING_NUMBER = re.compile(r"(?:\d+[-.]){2,}(?=[A-Za-z])")
_ENTITY_BOUNDARY = "'`{|}~!#$%&*+/=?^"
_LABELS = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,8}")
# Top-level domains used to split an address glued to the next token ("a@example.comjane.doe@...",
# "a@example.com4111 ..."): only consulted when the plain match is not cleanly delimited.
_KNOWN_TLDS = frozenset(
    "com net org edu gov mil int info biz name pro io co ai app dev me tv us uk de fr es it nl be ch at pt se dk "
    "no fi pl au nz in jp br mx ca ie eu ru cn kr za ar cl cz gr hu ro sk tr ua il sg hk tw my ph th vn id "
    "tech online site xyz cloud email shop store kiwi".split()
)


def _glued_domain_end(text: str, begin: int, limit: int, next_address: bool = False) -> int | None:
    """End of the domain at ``begin`` when the address runs into the next token, else None.

    Labels are split at a known TLD: the longest domain whose TLD is followed by a non-letter
    ("co.uk4111"), otherwise the shortest ("example.com" out of "example.comjane.doe@")."""
    run = _LABELS.match(text, begin, limit)
    if run is None:
        return None
    labels = run.group().split(".")
    offsets, position = [], begin
    for label in labels:
        offsets.append(position)
        position += len(label) + 1
    candidates: list[tuple[int, bool]] = []
    for index in range(1, len(labels)):
        label = labels[index]
        for size in range(min(len(label), 6), 1, -1):
            if label[:size].lower() in _KNOWN_TLDS and label[:size].isalpha():
                rest = label[size:]
                candidates.append((offsets[index] + size, not rest[:1].isalpha()))
                break
    if next_address and candidates and candidates[-1][0] > offsets[-1]:
        # run into the next address ("a@ward.co.nzbob@x.net"): the last label holds the TLD
        return candidates[-1][0]
    clean = [end for end, delimited in candidates if delimited]
    if clean:
        return max(clean)
    return min((end for end, _ in candidates), default=None)


class EmailDetector:
    name = "email"
    entity_types = (EMAIL,)
    optional = False

    def detect(self, ctx: ScanContext) -> list[Finding]:
        text = ctx.text
        at = text.find("@")
        out: list[Finding] = []
        last_end = 0
        while at != -1:
            m_local = _LOCAL.search(text, max(last_end, at - 64), at)
            if m_local is not None:
                start = m_local.start()
                # (a start right at the previous address's end is a glued address, not a long run)
                if start > last_end and _LOCAL_CHAR.match(text, start - 1):
                    # the run of local-part characters is longer than 64: not an address
                    at = text.find("@", at + 1)
                    continue
                # inside a URL (a path or query before the @), the address starts after the last
                # separator: https://host/u/jane@x.com, ...?owner=jane@x.com
                cut = max(text.rfind(sep, start, at) for sep in "/?#&=")
                if cut != -1 and any(sep in text[start:at] for sep in "/?#"):
                    start = cut + 1
                # a number run into the address ("...0004-jane.doe@"): a card or phone, not the local part
                lead = _LEADING_NUMBER.match(text, start, at)
                if lead is not None and sum(c.isdigit() for c in lead.group()) >= 9:
                    start = lead.end()
                # local part cannot begin with a dot or with quote-like punctuation
                while start < at and text[start] in "." + _ENTITY_BOUNDARY:
                    start += 1
                limit = min(len(text), at + 256)
                m_dom = _DOMAIN.match(text, at + 1, limit)
                end = m_dom.end() if m_dom is not None else None
                following = text[end:end + 2] if end is not None else ""
                next_at = _NEXT_ADDRESS.match(text, end) if end is not None else None
                if (
                    end is None
                    or following[:1] == "@"
                    or (following[:1] == "." and following[1:].isalnum())
                    or next_at is not None
                ):
                    # glued to the next token (another address, digits, more labels): segment it
                    end = _glued_domain_end(text, at + 1, limit, next_at is not None) or end
                url_userinfo = text[max(0, start - 3) : start] == "://"  # https://token@host: a credential
                if start < at and end is not None and text[at - 1] != "." and not url_userinfo:
                    out.append(Finding(start, end, EMAIL, 0.99, self.name))
                    last_end = end
                    at = text.find("@", end)
                    continue
            at = text.find("@", at + 1)
        return out
