"""The HTML report in a real headless Chromium (Debian's `chromium`, driven by Playwright): every section
visible, every image decoded, the animations animated, no console error and no request but the page."""

import os
import shutil
from pathlib import Path

import pytest

from stickeval.report.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECTIONS = ["run", "metrics", "noise", "per-action", "confusion", "physical", "clips"]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "headless Chromium is needed: apt-get install -y chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def page_state(chromium, run_dir, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path_factory.mktemp("browser")
    report = Path(write_report(run_dir, out / "report.html").path)
    requests, console = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
        page.goto(report.as_uri(), wait_until="load")
        state = page.evaluate(
            """() => ({
                sections: [...document.querySelectorAll('section')].map(s => {
                    s.scrollIntoView(); const r = s.getBoundingClientRect();
                    return {id: s.id, height: r.height, width: r.width, tables: s.querySelectorAll('table tr').length};
                }),
                images: [...document.images].map(i => ({complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
                                                        gif: i.src.startsWith('data:image/gif')})),
            })"""
        )
        page.screenshot(path=str(out / "report.png"), full_page=True)
        browser.close()
    return state, requests, console, out / "report.png"


def test_every_section_is_visible_with_its_content(page_state):
    state, _, _, _ = page_state
    assert [s["id"] for s in state["sections"]] == SECTIONS
    for section in state["sections"]:
        assert section["height"] > 40 and section["width"] > 400, section
    rows = {s["id"]: s["tables"] for s in state["sections"]}
    assert rows["run"] > 10 and rows["metrics"] > 10 and rows["per-action"] > 2 and rows["physical"] == 4


def test_every_image_decodes_and_the_clips_are_gifs(page_state):
    state, _, _, _ = page_state
    images = state["images"]
    assert images and all(i["complete"] and i["w"] > 0 and i["h"] > 0 for i in images)
    assert sum(i["gif"] for i in images) >= 2


def test_the_page_makes_no_request_and_logs_no_error(page_state):
    _, requests, console, _ = page_state
    assert len(requests) == 1 and requests[0].startswith("file://")
    assert [c for c in console if c[0] in ("error", "pageerror", "warning")] == []


def test_a_full_page_screenshot_is_taken(page_state):
    _, _, _, screenshot = page_state
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 50_000
