"""IBANs (ISO 13616) in compact or 4-grouped form, checked with python-stdnum."""

from __future__ import annotations

import re

from stdnum import iban as _iban

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import IBAN, Finding

_CANDIDATE = re.compile(
    r"[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?:[ .\-]?[A-Z0-9]{4}){2,7}(?:[ .\-]?[A-Z0-9]{1,4})?)\b",
    re.ASCII,
)


_SEP = re.compile(r"[ .\-]")


def _valid(compact: str) -> bool:
    try:
        return _iban.is_valid(compact)
    except Exception:  # noqa: BLE001 - stdnum raises only for odd input; treat as invalid
        return False


class IbanDetector:
    name = "iban"
    entity_types = (IBAN,)
    optional = False

    def detect(self, ctx: ScanContext) -> list[Finding]:
        text = ctx.text
        out: list[Finding] = []
        last = -1
        for lo, _hi in ctx.digit_clusters(2):
            if lo < 2 or lo < last or not ("A" <= text[lo - 2] <= "Z" and "A" <= text[lo - 1] <= "Z"):
                continue
            m = _CANDIDATE.match(text, lo - 2)
            if m is None:
                continue
            last = m.end()
            cand = m.group()
            start = m.start()
            before = text[start - 1] if start else " "
            if (before.isascii() and before.isalnum()) or before == "_":
                continue
            # a greedy match may have swallowed a following word: trim group by group
            while len(_SEP.sub("", cand)) >= 15:
                if _valid(_SEP.sub("", cand)):
                    out.append(Finding(start, start + len(cand), IBAN, 0.99, self.name))
                    break
                cut = max(cand.rfind(" "), cand.rfind("."), cand.rfind("-"))
                if cut <= 4:
                    break
                cand = cand[:cut]
        return out
