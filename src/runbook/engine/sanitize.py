"""Sanitizing notebooks for reports: an nh3 allowlist over every HTML, SVG and Markdown string.

Notebook output is hostile (DESIGN.md, "HTML from notebooks is hostile"): whatever a cell
printed came from the systems it queried. :func:`sanitize_notebook` drops outputs that only
run as script (JavaScript, widgets) or carry data rather than display (scrapbook scraps,
secret references) and cleans the rest; :func:`clean_html` is also the filter nbconvert's
templates call, so Markdown is cleaned again *after* it became HTML.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
from fnmatch import fnmatchcase
from typing import Any, Final

import nbformat
import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat import NotebookNode

from runbook.typing import Cell, Notebook, Output

#: Output mimetypes dropped before rendering (glob patterns). Mermaid is here because the
#: nbconvert templates paste it into the page unescaped and its renderer is a script anyway.
RENDERED_OUT_MIMETYPES: Final = (
    "application/javascript",
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
    "application/scrapbook.scrap.*",
    "application/papermill.record/*",
    "application/vnd.runbook.secret+json",
    "text/vnd.mermaid",
)
_IMAGE_TYPES: Final = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
_DATA_IMAGE: Final = re.compile(r"data:image/(png|jpeg|gif|webp|svg\+xml)[;,]")
_LOCAL_ONLY: Final = frozenset({"use", "textpath", "lineargradient", "radialgradient", "pattern"})
_LOADING_ATTRIBUTES: Final = frozenset(
    {"src", "srcset", "background", "poster", "data", "lowsrc", "dynsrc", "action", "formaction"}
)
_URL_ATTRIBUTES: Final = _LOADING_ATTRIBUTES | {"href", "xlink:href", "cite", "ping"}
#: Elements whose href is a link a reader follows, not a resource the page loads.
_LINK_TAGS: Final = frozenset({"a", "area"})
_BAD_CSS: Final = re.compile(r"expression\(|@import|script:|behavior|-moz-binding|\\")
_RAW_HTML: Final = re.compile(r"<[A-Za-z!/?]")
_SCRIPT_URL: Final = re.compile(r"script\s*:|(?<![a-z])data\s*:", re.IGNORECASE)
_SVG_TAGS: Final = {
    *("svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text"),
    *("tspan", "textPath", "defs", "use", "symbol", "marker", "clipPath", "mask", "pattern"),
    *("linearGradient", "radialGradient", "stop", "title", "desc", "image"),
}
_SVG_ATTRIBUTES: Final = {
    *("viewBox", "xmlns", "version", "preserveAspectRatio", "d", "points", "transform"),
    *("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry", "dx", "dy"),
    *("fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity"),
    *("stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset"),
    *("stroke-miterlimit", "opacity", "clip-path", "clip-rule", "clipPathUnits", "mask"),
    *("font-family", "font-size", "font-weight", "font-style", "text-anchor", "offset"),
    *("dominant-baseline", "stop-color", "stop-opacity", "gradientUnits", "visibility"),
    *("gradientTransform", "patternUnits", "marker-start", "marker-mid", "marker-end"),
    *("markerWidth", "markerHeight", "refX", "refY", "orient", "xlink:href", "display"),
}
_COMMON_ATTRIBUTES: Final = {"class", "id", "title", "style", "width", "height", "align", "alt"}
_TABLE_ATTRIBUTES: Final = {"colspan", "rowspan", "scope", "border", "start", "href", "src"}
_CSS_PROPERTIES: Final = {
    *("color", "background-color", "font-weight", "font-style", "font-size", "font-family"),
    *("text-align", "text-decoration", "vertical-align", "white-space", "display", "opacity"),
    *("width", "height", "min-width", "max-width", "margin", "padding", "border"),
    *("border-collapse", "list-style-type", "fill", "fill-opacity", "stroke", "stroke-width"),
    *("stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-dasharray"),
}


def _safe_url(tag: str, attribute: str, value: str) -> bool:
    """Whether a URL attribute may stay: loaded resources only as data: images.

    A report is read in mail clients and viewers that ignore its CSP, so nothing in it may
    make the reader's machine fetch anything: an attribute that loads (``src``, SVG
    ``<image href>``, ``background``…) keeps only a ``data:`` image (or, on SVG elements that
    only reference, a ``#fragment``); relative and protocol-relative URLs (``//host/x``)
    load too and are dropped. Links (``<a href>``) load only on a click and may point to
    http(s), mailto, a relative page or a fragment.
    """
    # Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
    compact = re.sub(r"[\x00-\x20]", "", value).lower()
    tag = tag.lower()
    if tag in _LOCAL_ONLY:
        return compact.startswith("#")
    if attribute in _LOADING_ATTRIBUTES or tag not in _LINK_TAGS:
        return tag in ("img", "image") and _DATA_IMAGE.match(compact) is not None
    scheme = re.match(r"([a-z][a-z0-9+.-]*):", compact)
    if scheme is None:
        return True  # a relative link or a fragment: followed only when clicked
    return scheme.group(1) in ("http", "https", "mailto")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES:
        return value if _safe_url(tag, attribute, value) else None
    compact = re.sub(r"[\x00-\x20]|/\*.*?\*/", "", value.lower())
    # url() only for references inside the same SVG (clip-path="url(#p1)").
    if "url(" in compact and not all(u.startswith("#") for u in compact.split("url(")[1:]):
        return None
    return None if attribute == "style" and _BAD_CSS.search(compact) else value


_HTML_CLEANER: Final = nh3.Cleaner(
    tags=set(nh3.ALLOWED_TAGS) | {"div", "span", "pre", "code", "caption", "tfoot", *_SVG_TAGS},
    clean_content_tags={"script", "style", "foreignObject", "textarea", "noscript"},
    attributes={"*": _COMMON_ATTRIBUTES | _TABLE_ATTRIBUTES | _SVG_ATTRIBUTES},
    attribute_filter=_attribute_filter,
    url_schemes={"http", "https", "mailto", "data"},
    filter_style_properties=_CSS_PROPERTIES,
)
_SVG_CLEANER: Final = nh3.Cleaner(
    tags=_SVG_TAGS,
    clean_content_tags={"script", "style", "foreignObject"},
    attributes={"*": {"class", "id", "style", "width", "height", "href", *_SVG_ATTRIBUTES}},
    attribute_filter=_attribute_filter,
    url_schemes={"data"},
    filter_style_properties=_CSS_PROPERTIES,
    set_tag_attribute_values={"svg": {"xmlns": "http://www.w3.org/2000/svg"}},
)


def clean_html(fragment: object) -> str:
    """An HTML fragment through the report allowlist (no script, handlers or unsafe URLs)."""
    text = fragment.decode() if isinstance(fragment, bytes) else str(fragment)
    return _HTML_CLEANER.clean(text)


def clean_svg(document: str) -> str:
    """An SVG document through the allowlist, still well-formed XML for an ``<img>``."""
    cleaned = _SVG_CLEANER.clean(document)
    # The HTML serializer writes entities XML lacks and drops the xlink namespace declaration.
    return cleaned.replace("&nbsp;", "&#160;").replace(" xlink:href=", " href=")


def clean_markdown(text: str, attachments: dict[str, Any] | None = None) -> str:
    """Markdown that cannot carry HTML or script links, unchanged when it is plain.

    Markdown with raw HTML (outside code) or a link that is not http(s), mailto, relative or
    a data: image is rendered to HTML and cleaned; the result is kept as one HTML line so
    Markdown renderers pass it through untouched (``&#10;`` keeps ``<pre>`` line breaks).
    """
    if _is_plain_markdown(text):
        return text
    known = attachments or {}
    # nbconvert aborts the whole report on a reference to an attachment that is not there.
    text = re.sub(
        r"attachment:([^\s)\"'>]+)",
        lambda m: m.group(0) if m.group(1) in known else f"attachment-removed:{m.group(1)}",
        text,
    )
    renderer = IPythonRenderer(escape=False, attachments=known, exclude_anchor_links=True)
    rendered = MarkdownWithMath(renderer=renderer).render(text)
    return '<div class="rb-cleaned">' + clean_html(rendered).replace("\n", "&#10;") + "</div>"


def _is_plain_markdown(text: str) -> bool:
    # Controls and backslashes vanish from a URL on its way to the browser; spaces end one.
    compact = re.sub(r"[\x00-\x08\x0b\x0e-\x1f\\]", "", html.unescape(html.unescape(text)))
    if _SCRIPT_URL.search(compact):
        return False
    # The parser nbconvert renders with decides what is code and what is HTML.
    tokens, _ = MarkdownWithMath(renderer=None).parse(text)  # type: ignore[arg-type]
    stack: list[Any] = list(tokens)
    while stack:
        token = stack.pop()
        kind = token.get("type")
        url = token.get("attrs", {}).get("url")
        if kind in ("block_html", "inline_html"):
            return False
        if url is not None and not _safe_url("img" if kind == "image" else "a", "href", url):
            return False
        if kind not in ("codespan", "block_code") and _RAW_HTML.search(token.get("raw", "")):
            return False
        stack.extend(token.get("children", ()))
    return True


def _clean_attachments(cell: Cell) -> None:
    kept: dict[str, dict[str, str]] = {}
    for name, bundle in dict(cell.get("attachments") or {}).items():
        images = {k: v for k, v in dict(bundle).items() if k in _IMAGE_TYPES}
        if "image/svg+xml" in images:
            try:
                svg = base64.b64decode(images["image/svg+xml"]).decode("utf-8")
                images["image/svg+xml"] = base64.b64encode(clean_svg(svg).encode()).decode()
            except (binascii.Error, UnicodeDecodeError):
                del images["image/svg+xml"]
        if images:
            kept[str(name)] = images
    if "attachments" in cell:
        cell["attachments"] = NotebookNode(kept)


def _clean_output(output: Output) -> Output | None:
    data = output.get("data")
    if data is None:
        return output
    for mimetype in list(data):
        if any(fnmatchcase(mimetype, pattern) for pattern in RENDERED_OUT_MIMETYPES):
            del data[mimetype]
    for mimetype, clean in (("text/html", clean_html), ("image/svg+xml", clean_svg)):
        if mimetype in data:
            data[mimetype] = clean(_text(data[mimetype]))
    if "text/markdown" in data:
        data["text/markdown"] = clean_markdown(_text(data["text/markdown"]))
    if "text/latex" in data and _RAW_HTML.search(_text(data["text/latex"])):
        del data["text/latex"]  # the Markdown template pastes LaTeX in raw
    if not data:
        return None
    # Width and height land in unquoted attributes; file names point outside the report.
    metadata = output.get("metadata") or {}
    for key in list(metadata):
        if key == "filenames" or not isinstance(metadata[key], dict):
            del metadata[key]
            continue
        for size in ("width", "height"):
            value = metadata[key].get(size)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                del metadata[key][size]
    output.pop("svg_filename", None)
    return output


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize_notebook(notebook: Notebook) -> Notebook:
    """A copy of ``notebook`` that is safe to render (see the module docstring)."""
    clean: NotebookNode = nbformat.from_dict(copy.deepcopy(notebook))
    clean.metadata.pop("widgets", None)
    language = clean.metadata.get("language_info", {}).get("name", "")
    if not re.fullmatch(r"[\w+#.-]*", str(language)):
        clean.metadata["language_info"]["name"] = ""
    for cell in clean.cells:
        cell.source = _text(cell.source)
        if "magics_language" in cell.metadata:
            del cell.metadata["magics_language"]  # pasted raw into the Markdown fence line
        _clean_attachments(cell)
        if cell.cell_type == "markdown":
            cell.source = clean_markdown(cell.source, dict(cell.get("attachments") or {}))
        elif cell.cell_type == "raw":
            kind = str(cell.metadata.get("raw_mimetype", "")).lower()
            if kind == "text/html":
                cell.source = clean_html(cell.source)
            elif kind in ("", "text/markdown"):
                cell.source = clean_markdown(cell.source)
        elif cell.cell_type == "code":
            if not isinstance(cell.get("execution_count"), int):
                cell.execution_count = None
            kept = (_clean_output(o) for o in cell.get("outputs", []))
            cell.outputs = [o for o in kept if o is not None]
    return clean
