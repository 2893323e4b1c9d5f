"""Email addresses, matched outward from each '@' (linear time on any input)."""

from __future__ import annotations

import re

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import EMAIL, Finding

_LOCAL_CHAR = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}\Z")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_ENTITY_BOUNDARY = "'`{|}~!#$%&*+/=?^"


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
                if start > 0 and _LOCAL_CHAR.match(text, start - 1):
                    # the run of local-part characters is longer than 64: not an address
                    at = text.find("@", at + 1)
                    continue
                # local part cannot begin with a dot or with quote-like punctuation
                while start < at and text[start] in "." + _ENTITY_BOUNDARY:
                    start += 1
                m_dom = _DOMAIN.match(text, at + 1, min(len(text), at + 256))
                url_userinfo = text[max(0, start - 3) : start] == "://"  # https://token@host: a credential
                if start < at and m_dom is not None and text[at - 1] != "." and not url_userinfo:
                    end = m_dom.end()
                    out.append(Finding(start, end, EMAIL, 0.99, self.name))
                    last_end = end
                    at = text.find("@", end)
                    continue
            at = text.find("@", at + 1)
        return out
