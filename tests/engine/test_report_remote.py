"""Reports load nothing from anywhere: only data: images, whatever the CSP-less viewer (T2)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import pytest

from runbook.engine.report import render_html
from runbook.engine.sanitize import clean_html, clean_markdown, clean_svg
from tests.engine.test_report import PNG, _chromium, _Collector, _dump_dom, a_run, events
from tests.localhttp import JsonHandler, serving

v4 = nbformat.v4
#: Placeholder for the host a payload would leak the reader's address to.
HOST = "//evil.example"


def remote_html(host: str = HOST) -> list[str]:
    """HTML that makes a viewer fetch from ``host`` unless the sanitizer stops it."""
    return [
        f'<img src="http:{host}/1.png">',
        f'<img src="https:{host}/2.png" alt="chart">',
        f"<img src={host}/3.png>",  # protocol-relative
        f'<img src="  ht\ttp:{host}/4.png">',
        f'<img src="&#104;ttp:{host}/5.png">',
        '<img src="relative/6.png">',
        f'<img srcset="http:{host}/7.png 1x, http:{host}/7b.png 2x">',
        f'<img src="data:image/png;base64,{PNG}" srcset="http:{host}/8.png 2x">',
        f'<picture><source srcset="http:{host}/9.png"><img src="http:{host}/9b.png"></picture>',
        f'<div style="background-image:url(http:{host}/10.png)">bg1</div>',
        f"<div style=\"background:url('http:{host}/11.png')\">bg2</div>",
        f"<div style=\"background-image:image-set('http:{host}/12.png' 1x)\">bg3</div>",
        f'<span style="color:red;background:URL( {host}/13.png )">bg4</span>',
        f'<table background="http:{host}/14.png"><tr><td background="http:{host}/15.png">'
        "c</td></tr></table>",
        f'<svg><image href="http:{host}/16.png" width="10" height="10"/></svg>',
        f'<svg><image xlink:href="http:{host}/17.png" width="10" height="10"/></svg>',
        f'<svg><use href="http:{host}/18.svg#a"/></svg>',
        f'<svg><rect width="5" height="5" fill="url(http:{host}/19.svg#g)"/></svg>',
        f'<svg><rect width="5" height="5" style="fill:url(http:{host}/20.svg#g)"/></svg>',
        f'<video src="http:{host}/21.mp4" poster="http:{host}/22.png"></video>',
        f'<audio src="http:{host}/23.mp3"></audio>',
        f'<input type="image" src="http:{host}/24.png">',
        f'<link rel="stylesheet" href="http:{host}/25.css">',
        f"<style>@import 'http:{host}/26.css'; body{{background:url(http:{host}/27.png)}}</style>",
        f'<object data="http:{host}/28.svg"></object>',
        f'<iframe src="http:{host}/29.html"></iframe>',
        f'<a href="https://docs.example/x" ping="http:{host}/30">docs</a>',
    ]


def remote_markdown(host: str = HOST) -> list[str]:
    """Markdown images that would be fetched."""
    return [
        f"![md1](http:{host}/m1.png)",
        f"![md2]({host}/m2.png)",
        f"![md3][r]\n\n[r]: https:{host}/m3.png",
        f'<img src="http:{host}/m4.png">',
        "![md5](relative/m5.png)",
    ]


def remote_svg(host: str = HOST) -> list[str]:
    """SVG documents (image/svg+xml outputs) that reference remote resources."""
    ns = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    return [
        f'<svg {ns}><image href="http:{host}/s1.png" width="9" height="9"/></svg>',
        f'<svg {ns}><image xlink:href="https:{host}/s2.png" width="9" height="9"/></svg>',
        f'<svg {ns}><rect width="9" height="9" style="fill:url(http:{host}/s3#p)"/></svg>',
    ]


def remote_notebook(host: str = HOST) -> Any:
    """Every remote payload as an HTML, Markdown and SVG output, a Markdown cell and raw HTML."""
    nb = v4.new_notebook()
    nb.cells = [v4.new_markdown_cell(p) for p in remote_html(host) + remote_markdown(host)]
    raw = v4.new_raw_cell("".join(remote_html(host)))
    raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.append(raw)
    outputs = [
        *(v4.new_output("display_data", data={"text/html": p}) for p in remote_html(host)),
        *(v4.new_output("display_data", data={"text/markdown": p}) for p in remote_markdown(host)),
        *(v4.new_output("display_data", data={"image/svg+xml": p}) for p in remote_svg(host)),
        v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        v4.new_output(
            "display_data",
            data={"text/html": f'<img src="data:image/png;base64,{PNG}" alt="inline">'},
        ),
        v4.new_output(
            "display_data",
            data={"text/html": '<svg><rect width="5" height="5" clip-path="url(#c)"/></svg>'},
        ),
        v4.new_output(
            "display_data", data={"text/html": '<a href="https://docs.example/ok">the docs</a>'}
        ),
    ]
    nb.cells.append(v4.new_code_cell("show()", execution_count=1, outputs=outputs))
    return nb


#: Attributes that make a browser fetch what they name.
LOADING = {"src", "srcset", "background", "poster", "data", "ping", "lowsrc", "dynsrc"}


def assert_loads_nothing(page: str) -> None:
    """Every resource-loading attribute in the page is a data: image or a #fragment."""
    collector = _Collector()
    collector.feed(page)
    for tag, attrs in collector.tags:
        assert tag not in {"link", "iframe", "object", "embed", "video", "audio", "source"}, tag
        for name, value in attrs:
            compact = re.sub(r"[\x00-\x20]", "", value or "").lower()
            loads = name in LOADING or (name in {"href", "xlink:href"} and tag not in {"a"})
            if loads:
                assert compact.startswith(("data:image/", "#")), (tag, name, value)
            if name == "style":
                assert all(u.startswith("#") for u in compact.split("url(")[1:]), (tag, value)
                assert "image-set" not in compact, (tag, value)
            if tag != "a" and name not in {"xmlns", "xmlns:xlink"}:
                assert "evil.example" not in compact, (tag, name, value)
    # Nothing left in a <style> either.
    for block in re.findall(r"<style[^>]*>(.*?)</style>", page, re.S | re.I):
        assert "evil.example" not in block


def test_a_report_of_hostile_output_loads_only_data_images() -> None:
    page = render_html(remote_notebook(), run=a_run(), events=events())
    assert_loads_nothing(page)
    # What is legitimate survives: inline images, local SVG references, links.
    assert page.count(f"data:image/png;base64,{PNG}") >= 3
    assert 'clip-path="url(#c)"' in page
    assert 'href="https://docs.example/ok"' in page


@pytest.mark.parametrize("payload", remote_html(), ids=lambda p: p[:40])
def test_each_remote_html_payload_is_stopped(payload: str) -> None:
    assert_loads_nothing(clean_html(payload))


@pytest.mark.parametrize("payload", remote_markdown(), ids=lambda p: p[:40])
def test_each_remote_markdown_image_is_stopped(payload: str) -> None:
    cleaned = clean_markdown(payload)
    assert "evil.example" not in cleaned and "relative/m5" not in cleaned


@pytest.mark.parametrize("payload", remote_svg(), ids=lambda p: p[:40])
def test_each_remote_svg_reference_is_stopped(payload: str) -> None:
    assert "evil.example" not in clean_svg(payload)


def test_links_and_data_images_are_kept() -> None:
    assert clean_markdown("[docs](https://docs.example/x)") == "[docs](https://docs.example/x)"
    assert clean_markdown("see [below](#rollback)") == "see [below](#rollback)"
    image = f'<img src="data:image/png;base64,{PNG}">'
    assert clean_html(image) == image
    svg = f'<svg><image href="data:image/png;base64,{PNG}"></image></svg>'
    assert clean_html(svg) == svg


class _Recorder(JsonHandler):
    """Counts every request a page makes."""

    seen: ClassVar[list[str]] = []
    lock = threading.Lock()

    def answer(self, path: str) -> tuple[int, Any]:
        with self.lock:
            self.seen.append(path)
        return 404, b""


@pytest.mark.browser
def test_chromium_fetches_nothing_from_a_report_without_its_csp(tmp_path: Path) -> None:
    chromium = _chromium()
    _Recorder.seen = []
    with serving(_Recorder) as base:
        host = base.removeprefix("http:")
        # The control: the same payloads unsanitized do reach the server.
        control = tmp_path / "control.html"
        control.write_text("<!DOCTYPE html><title>t</title><body>" + "".join(remote_html(host)))
        _dump_dom(chromium, control, tmp_path / "p1")
        assert len(_Recorder.seen) >= 10, _Recorder.seen
        _Recorder.seen = []
        page = render_html(remote_notebook(host), run=a_run(), events=events())
        report = tmp_path / "report.html"
        report.write_text(page.replace("Content-Security-Policy", "x-disabled"), encoding="utf-8")
        dom = _dump_dom(chromium, report, tmp_path / "p2")
    assert "the docs" in dom
    assert _Recorder.seen == []
