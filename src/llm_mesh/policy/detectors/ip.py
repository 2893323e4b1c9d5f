"""IPv4 and IPv6 addresses, validated by the stdlib ``ipaddress`` module."""

from __future__ import annotations

import ipaddress
import re

from llm_mesh.policy.detectors.base import ScanContext
from llm_mesh.policy.findings import IP_ADDRESS, Finding

_V4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}", re.ASCII)
_V6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_V6 = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?", re.ASCII)


def _word(ch: str) -> bool:
    """An ASCII letter or digit: letters of scripts written without spaces (は, で) do not join an address."""
    return ch.isascii() and ch.isalnum()


class IpDetector:
    name = "ip"
    entity_types = (IP_ADDRESS,)
    optional = False

    def __init__(self, include_private: bool = True) -> None:
        self.include_private = include_private

    def _keep(self, addr: ipaddress._BaseAddress) -> bool:
        if addr.is_unspecified or addr.is_loopback:
            return False
        return self.include_private or addr.is_global

    def _v6(self, text: str, m: re.Match[str], out: list[Finding]) -> None:
        s, e = m.span()
        cand = m.group()
        if cand.count(":") < 2 or sum(1 for g in cand.split(":") if g) < 2:
            return
        before = text[s - 1] if s else " "
        after = text[e] if e < len(text) else " "
        # (a ":" before the address is punctuation unless it continues a colon/hex run: "連絡先：")
        glued_colon = before == ":" and s >= 2 and text[s - 2] in _V6_CHARS
        if _word(before) or before == "_" or glued_colon or _word(after) or after in "_:":
            return
        try:
            addr = ipaddress.IPv6Address(cand)
        except ValueError:
            return
        if self._keep(addr):
            out.append(Finding(s, e, IP_ADDRESS, 0.9, self.name))

    def detect(self, ctx: ScanContext) -> list[Finding]:
        text = ctx.text
        out: list[Finding] = []
        if ctx.digit_count >= 4 and "." in text:
            for m in (m for lo, hi in ctx.digit_clusters(4) for m in _V4.finditer(text, lo, hi)):
                s, e = m.span()
                before = text[s - 1] if s else " "
                after = text[e] if e < len(text) else " "
                if _word(before) or before in "._-" or _word(after) or after in "_-":
                    continue
                if after == "." and e + 1 < len(text) and text[e + 1].isdigit():
                    continue  # 1.2.3.4.5: a longer dotted sequence (version, OID)
                words = text[max(0, s - 12) : s].lower().split()
                if words and words[-1].rstrip(":=") in ("version", "ver", "v", "release", "build"):
                    continue
                try:
                    addr = ipaddress.IPv4Address(m.group())
                except ValueError:
                    continue
                if self._keep(addr):
                    out.append(Finding(s, e, IP_ADDRESS, 0.9, self.name))
        colon = text.find(":")
        scanned_to = -1
        while colon != -1:
            if colon > scanned_to:
                # grow the hex/colon/dot run around this colon
                s = colon
                while s > 0 and text[s - 1] in _V6_CHARS:
                    s -= 1
                if text[s] == ":" and text[s + 1 : s + 2] != ":":
                    s += 1  # a lone leading ":" is punctuation ("連絡先：" folded), not "::"
                e = colon
                while e < len(text) and text[e] in _V6_CHARS:
                    e += 1
                scanned_to = e
                if e - s >= 6 and text.count(":", s, e) >= 2:
                    for m in _V6.finditer(text, s, e):
                        self._v6(text, m, out)
            colon = text.find(":", max(colon + 1, scanned_to))
        return out
