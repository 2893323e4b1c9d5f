"""Turn files into (title, text): plain text, Markdown, HTML, PDF."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


class _HtmlText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[override]
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", text)
    return parser.title.strip(), text.strip()


def _markdown_title(text: str) -> str:
    for line in text.splitlines()[:20]:
        match = re.match(r"^#\s+(.+)$", line.strip())
        if match:
            return match.group(1).strip()
    return ""


def pdf_to_text(path: Path) -> tuple[str, str]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("reading PDF needs pypdf: pip install 'llm-mesh[kb]'") from exc
    reader = PdfReader(str(path))
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title)
    pages = [(page.extract_text() or "") for page in reader.pages]
    return title, "\n\n".join(p.strip() for p in pages if p.strip())


def read_document(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """(title, text) of one file; the title falls back to the file name."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        title, text = pdf_to_text(path)
    else:
        raw = (data if data is not None else path.read_bytes()).decode("utf-8", errors="replace")
        if suffix in HTML_SUFFIXES:
            title, text = html_to_text(raw)
        else:
            title, text = (_markdown_title(raw) if suffix in {".md", ".markdown"} else ""), raw
    return (title or path.stem.replace("_", " ").replace("-", " ")), text
