"""HTML bodies: sanitized for display (nh3 / Ammonia) and turned into text.

The sanitized HTML keeps ``cid:`` images (inline parts) and remote images. The desktop shows it in
a sandboxed frame whose Content-Security-Policy blocks remote loads until the agent consents."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center"}
_ATTRIBUTES: dict[str, set[str]] = copy.deepcopy(nh3.ALLOWED_ATTRIBUTES)
_ATTRIBUTES["*"] = {"style", "dir", "lang", "title", "align"}
_ATTRIBUTES["font"] = {"color", "size", "face"}
_ATTRIBUTES.setdefault("td", set()).update({"width", "valign", "bgcolor"})
_ATTRIBUTES.setdefault("table", set()).update({"width", "border", "cellpadding", "cellspacing", "bgcolor"})
_STYLES = {"color", "background-color", "font-family", "font-size", "font-weight", "font-style", "text-align",
           "text-decoration", "margin", "margin-left", "margin-right", "margin-top", "margin-bottom", "padding",
           "padding-left", "padding-right", "padding-top", "padding-bottom", "border", "border-collapse", "width",
           "height", "line-height", "vertical-align", "white-space"}
_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize_html(html: str) -> str:
    """No scripts, event handlers, forms, frames or style sheets; links open nothing by themselves."""
    return nh3.clean(html, tags=_TAGS, clean_content_tags={"script", "style", "title", "head", "template"},
                     attributes=_ATTRIBUTES, url_schemes=_SCHEMES, filter_style_properties=_STYLES,
                     link_rel="noopener noreferrer")


_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table",
           "ul", "ol", "hr", "section", "article", "header", "footer", "dt", "dd"}
_SKIP = {"script", "style", "head", "title", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
        if tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        elif tag == "pre" and self._pre:
            self._pre -= 1
        if tag in _BLOCKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this is a last guard for text we must not lose
        return re.sub(r"<[^>]*>", " ", html)
    lines = [line.strip() for line in "".join(parser.parts).replace("\xa0", " ").splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
