"""The web page (frontend/) in a real browser: Playwright drives Debian's headless Chromium against
a real TorchServe, the page served from its own origin and calling TorchServe's API directly,
as a person would use it.

Needs the playwright package (requirements.txt) and /usr/bin/chromium (scripts/install_browser.sh).
Missing either, the tests skip on a developer's machine and fail in CI (CI=true).
Screenshots: the test's tmp_path, and copies in test-output/frontend-*.png (git-ignored).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import json
import os
import re
import shutil
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from dronesr.parameters import sr_scopes
from dronesr.serving.requests import controls as parameter_controls
from tests.helpers import ROOT, drone_photo, encode, real_photo, synthetic_photo

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the browser fixture
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_OUTPUT = ROOT / "test-output"
RESULT_TIMEOUT_MS = 180_000  # CPU inference on a busy 2-core machine
VIEWPORT = {"width": 1100, "height": 900}


@pytest.fixture(scope="module")
def browser():
    missing = []
    if sync_playwright is None:
        missing.append("the playwright package (.venv/bin/pip install -r requirements.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (bash scripts/install_browser.sh)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(reason + "; CI must install them", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(browser, shipped_server):  # after `browser`: no TorchServe start when the test skips
    return shipped_server


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(server.page + "/")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(tab, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copyfile(path, TEST_OUTPUT / path.name)
    return path


def natural_size(tab, selector: str) -> list[int]:
    return tab.locator(selector).evaluate("img => [img.naturalWidth, img.naturalHeight]")


def test_photo_is_enlarged_four_times_and_compared_with_bicubic(page, server, tmp_path):
    expect(page.locator("#server-origin")).to_have_text(server.inference)
    expect(page.locator("#server-state")).to_contain_text("model server is up")

    page.set_input_files("#sr-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    sizes = page.locator("#sr-sizes")
    expect(sizes).to_contain_text("Photo 100 × 100 px")
    expect(sizes).to_contain_text("result 400 × 400 px")
    expect(page.locator("#sr-warning")).to_be_hidden()

    page.click("#sr-send")
    expect(page.locator("#sr-result-box")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#sr-error")).to_be_hidden()
    assert natural_size(page, "#sr-result") == [400, 400]
    assert page.locator("#sr-bicubic").evaluate("c => [c.width, c.height]") == [400, 400]
    expect(page.locator("#sr-meta")).to_contain_text("SRGAN · 400 × 400 px · PNG")
    expect(page.locator("#sr-progress")).to_be_hidden()
    screenshot(page, tmp_path, "frontend-sr")

    # The download is the model's PNG, four times the photo.
    link = page.locator("#sr-download")
    assert link.get_attribute("download") == "drone_srgan_x4.png"
    with page.expect_download() as download:
        link.click()
    download.value.save_as(tmp_path / "drone_srgan_x4.png")
    assert Image.open(tmp_path / "drone_srgan_x4.png").size == (400, 400)

    # Dragging the handle moves the divider.
    box = page.locator("#sr-compare").bounding_box()
    middle_y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, middle_y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, middle_y, steps=5)
    page.mouse.up()
    assert abs(int(page.locator("#sr-handle").get_attribute("aria-valuenow")) - 25) <= 2
    page.locator("#sr-handle").press("End")
    expect(page.locator("#sr-handle")).to_have_attribute("aria-valuenow", "100")

    # The other model and another format.
    page.check("input[name=model][value=srresnet]")
    page.select_option("#sr-format", "jpeg")
    page.click("#sr-send")
    expect(page.locator("#sr-meta")).to_contain_text("SRResNet · 400 × 400 px · JPG", timeout=RESULT_TIMEOUT_MS)
    # a 100x100 photo is within srresnet's ensemble_auto_pixels: the page says its passes were averaged (X-Ensemble)
    expect(page.locator("#sr-meta")).to_contain_text("passes averaged 8 (auto: 100x100 input")
    assert natural_size(page, "#sr-result") == [400, 400]
    assert link.get_attribute("download") == "drone_srresnet_x4.jpg"


# Wraps the page's fetch to record the text fields of every form it posts (Chromium does not hand
# multipart bodies with a file to Playwright).
RECORD_FORMS = """() => {
  window.sentForms = [];
  const original = window.fetch;
  window.fetch = (url, options) => {
    if (options && options.body instanceof FormData) {
      window.sentForms.push(Object.fromEntries([...options.body.entries()].filter(([, v]) => typeof v === "string")));
    }
    return original(url, options);
  };
}"""


def test_served_models_fidelity_and_outscale(page, tmp_path):
    """The model list comes from the server (models.json); fidelity is offered where the model has
    it, starting at the model's default; outscale changes the size asked for, shown and returned."""
    radios = page.locator("#sr-models input[name=model]")
    expect(radios).to_have_count(2)
    expect(page.locator("#sr-fidelity-field")).to_be_visible()
    expect(page.locator("#sr-fidelity-value")).to_have_text("0.60")  # srgan's default_fidelity
    expect(page.locator("#sr-restore-field")).to_be_visible()
    expect(page.locator("#sr-restore-value")).to_have_text("auto")
    page.check("input[name=model][value=srresnet]")
    expect(page.locator("#sr-fidelity-field")).to_be_hidden()
    expect(page.locator("#sr-restore-field")).to_be_visible()
    page.check("input[name=model][value=srgan]")
    page.set_input_files("#sr-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    page.select_option("#sr-outscale", "2")
    expect(page.locator("#sr-sizes")).to_contain_text("result 200 × 200 px")
    expect(page.locator("#sr-send")).to_have_text("Enlarge ×2")
    page.locator("#sr-fidelity").fill("0.3")
    expect(page.locator("#sr-fidelity-value")).to_have_text("0.30")
    page.evaluate(RECORD_FORMS)
    page.click("#sr-send")
    expect(page.locator("#sr-meta")).to_contain_text("SRGAN (fidelity 0.30) · 200 × 200 px", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#sr-meta")).to_contain_text(re.compile(r"restoration [0-9.]+ \(auto: "))  # restore=auto, from X-Restore
    expect(page.locator("#sr-restore")).to_be_disabled()  # still automatic after the page was busy
    assert natural_size(page, "#sr-result") == [200, 200]
    assert page.locator("#sr-bicubic").evaluate("c => [c.width, c.height]") == [200, 200]
    assert page.locator("#sr-download").get_attribute("download") == "drone_srgan_x2.png"
    assert page.evaluate("window.sentForms") == [{"format": "png", "outscale": "2", "fidelity": "0.30"}]
    screenshot(page, tmp_path, "frontend-sr-controls")


def test_restoration_is_automatic_unless_set_by_hand(page):
    """restore is not sent while automatic (the server decides and says what it used); unchecked,
    the slider is enabled and its value is sent."""
    expect(page.locator("#sr-restore")).to_be_disabled()
    page.check("input[name=model][value=srresnet]")
    page.set_input_files("#sr-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    page.uncheck("#sr-restore-auto")
    expect(page.locator("#sr-restore")).to_be_enabled()
    page.locator("#sr-restore").fill("0.25")
    expect(page.locator("#sr-restore-value")).to_have_text("0.25")
    page.evaluate(RECORD_FORMS)
    page.click("#sr-send")
    expect(page.locator("#sr-meta")).to_contain_text("restoration 0.25 (requested)", timeout=RESULT_TIMEOUT_MS)
    assert page.evaluate("window.sentForms") == [{"format": "png", "restore": "0.25"}]


# ------------------------------------------------------------------ the page against a stubbed API
# No TorchServe: the page's own server (frontend/server.py, in this process) with model notes
# written here, and Playwright answering the API's requests. For what the page shows and sends.
STUB_API = "http://127.0.0.1:9"  # never reached: every request to it is answered by the route below
STUB_NOTES = [  # as `make archive` writes them: "controls" from the parameter table (dronesr/parameters.py)
    {"name": "srgan", "task": "super-resolution", "scale": 4, "architecture": "SPAN", "fidelity": True, "restore": True,
     "default_fidelity": 0.5, "controls": parameter_controls(*sr_scopes(fidelity=True, restore=True))},
    {"name": "srresnet", "task": "super-resolution", "scale": 4, "architecture": "SPAN", "fidelity": False, "restore": True,
     "controls": parameter_controls(*sr_scopes(fidelity=False, restore=True))},
    # a note written before the table: no "controls" (the page draws the shipped ones its flags name)
    {"name": "plain", "task": "super-resolution", "scale": 4, "architecture": "ESRGAN", "fidelity": False, "restore": False},
]
STUB_RESTORE = {  # X-Restore by model; none for a model without restore
    "srgan": "1 (auto: jpeg quality 40)",
    "srresnet": "0.35 (auto: <b>noise</b> sigma 2.6)",  # markup in server text must stay text
}


def page_server(tmp_path: Path, notes: list[dict] = STUB_NOTES):
    spec = importlib.util.spec_from_file_location("frontend_page_server", ROOT / "frontend" / "server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    store = tmp_path / "model_store"
    store.mkdir()
    for note in notes:
        (store / f"{note['name']}.json").write_text(json.dumps(note))
    return module.make_server("127.0.0.1", 0, STUB_API, model_store=store)


def test_the_page_modules_are_served_as_javascript(tmp_path):
    """The page is native ES modules (index.html loads app.js as type="module"): a browser runs a
    module only when it comes with a JavaScript type, and every import must name a served file."""
    httpd = page_server(tmp_path)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with urllib.request.urlopen(origin + "/", timeout=10) as reply:
            assert '<script type="module" src="app.js"></script>' in reply.read().decode()
        modules = sorted((ROOT / "frontend").glob("*.js"))
        for module in modules:
            with urllib.request.urlopen(f"{origin}/{module.name}", timeout=10) as reply:
                assert reply.headers["Content-Type"] == "text/javascript; charset=utf-8", module.name
            for imported in re.findall(r'^import .* from "\./([\w.-]+)";$', module.read_text(), re.M):
                assert (ROOT / "frontend" / imported).is_file(), f"{module.name} imports {imported}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def stub_page(browser, tmp_path):
    """The page with srgan, srresnet and "plain" (no fidelity, no restore)."""
    with stubbed_page(browser, tmp_path, STUB_NOTES) as tab:
        yield tab


@contextlib.contextmanager
def stubbed_page(browser, tmp_path: Path, notes: list[dict]):
    """The page with these model notes in its models.json; each prediction is a 400 x 400 PNG with
    the model's X-Restore, read through the same CORS headers TorchServe sends."""
    httpd = page_server(tmp_path, notes)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    result = encode(synthetic_photo(400, 400), "PNG", compress_level=1)

    def answer(route):
        cors = {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "X-Output-Size, X-Tiles, X-Resized-From, X-Restore"}
        path = urlsplit(route.request.url).path
        model = path.rsplit("/", 1)[-1]
        if path == "/ping":
            route.fulfill(status=200, content_type="application/json", headers=cors, body='{"status": "Healthy"}')
        elif path.startswith("/predictions/") and model in {n["name"] for n in notes}:
            headers = {**cors, "X-Output-Size": "400x400", **({"X-Restore": STUB_RESTORE[model]} if model in STUB_RESTORE else {})}
            route.fulfill(status=200, content_type="image/png", headers=headers, body=result)
        else:
            route.fulfill(status=404, content_type="application/json", headers=cors, body=(
                f'{{"code": 404, "type": "ModelNotFoundException", "message": "Model not found: {model}"}}'))

    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.route(STUB_API + "/**", answer)
    try:
        tab.goto(origin + "/")
        expect(tab.locator("#sr-models input[name=model]")).to_have_count(sum(n["task"] == "super-resolution" for n in notes))  # models.json was read
        yield tab
    finally:
        context.close()
        httpd.shutdown()
        httpd.server_close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def send_and_wait(tab, meta_text: str) -> None:
    tab.evaluate("document.getElementById('sr-meta').textContent = ''")
    tab.click("#sr-send")
    expect(tab.locator("#sr-meta")).to_contain_text(meta_text)


def test_restoration_and_fidelity_controls_follow_the_model_notes(stub_page, tmp_path):
    """Restoration is offered for models whose note says restore, automatic by default (no restore
    sent, the server's choice shown from X-Restore as text); fidelity starts at the model's
    default and is sent only when moved from it."""
    tab = stub_page
    restore_field, restore, auto = tab.locator("#sr-restore-field"), tab.locator("#sr-restore"), tab.locator("#sr-restore-auto")
    expect(tab.locator("input[name=model][value=srgan]")).to_be_checked()
    expect(tab.locator("#sr-fidelity-field")).to_be_visible()
    expect(tab.locator("#sr-fidelity")).to_have_value("0.5")  # default_fidelity, not 0
    expect(tab.locator("#sr-fidelity-value")).to_have_text("0.50")
    expect(restore_field).to_be_visible()
    expect(auto).to_be_checked()
    expect(restore).to_be_disabled()
    expect(tab.locator("#sr-restore-value")).to_have_text("auto")
    expect(tab.locator("#sr-restore-hint")).to_have_text("0: keep the input as it is · 1: remove JPEG blocks, noise and blur")
    expect(tab.locator("#sr-fidelity-hint")).to_have_text("0: the GAN's texture · 1: the PSNR model's smoothness (less invented detail)")
    tab.check("input[name=model][value=srresnet]")
    expect(tab.locator("#sr-fidelity-field")).to_be_hidden()
    expect(restore_field).to_be_visible()
    tab.check("input[name=model][value=plain]")
    expect(tab.locator("#sr-fidelity-field")).to_be_hidden()
    expect(restore_field).to_be_hidden()
    tab.check("input[name=model][value=srgan]")
    expect(restore_field).to_be_visible()

    # Defaults: neither fidelity nor restore is sent; the server's restoration is shown.
    tab.set_input_files("#sr-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    tab.evaluate(RECORD_FORMS)
    send_and_wait(tab, "SRGAN · 400 × 400 px · PNG")
    expect(tab.locator("#sr-meta")).to_contain_text("restoration 1 (auto: jpeg quality 40)")
    expect(restore).to_be_disabled()  # busy and back: still automatic

    # By hand: the slider is enabled and its value sent with 2 decimals; fidelity moved off its
    # default is sent, moved back it is not.
    tab.uncheck("#sr-restore-auto")
    expect(restore).to_be_enabled()
    restore.fill("0.4")
    expect(tab.locator("#sr-restore-value")).to_have_text("0.40")
    tab.locator("#sr-fidelity").fill("0.3")
    send_and_wait(tab, "SRGAN (fidelity 0.30) · 400 × 400 px")
    expect(restore).to_be_enabled()
    tab.locator("#sr-fidelity").fill("0.5")
    send_and_wait(tab, "SRGAN · 400 × 400 px")
    tab.check("#sr-restore-auto")
    expect(restore).to_be_disabled()
    expect(tab.locator("#sr-restore-value")).to_have_text("auto")
    send_and_wait(tab, "SRGAN · 400 × 400 px")
    assert tab.evaluate("window.sentForms") == [
        {"format": "png"},
        {"format": "png", "fidelity": "0.30", "restore": "0.40"},
        {"format": "png", "restore": "0.40"},
        {"format": "png"},
    ]

    # X-Restore is server text: shown as it came, never parsed as markup.
    tab.check("input[name=model][value=srresnet]")
    send_and_wait(tab, "SRResNet · 400 × 400 px")
    expect(tab.locator("#sr-meta")).to_contain_text("restoration 0.35 (auto: <b>noise</b> sigma 2.6)")
    expect(tab.locator("#sr-meta b")).to_have_count(0)
    screenshot(tab, tmp_path, "frontend-sr-restoration")

    # A model without restore: no restore sent even with automatic unticked, nothing shown.
    tab.uncheck("#sr-restore-auto")
    tab.check("input[name=model][value=plain]")
    send_and_wait(tab, "plain · 400 × 400 px")
    expect(tab.locator("#sr-meta")).not_to_contain_text("restoration")
    assert tab.evaluate("window.sentForms.slice(4)") == [{"format": "png"}, {"format": "png"}]


# Parameters the table does not have, one of each plain kind, as `make archive` would describe
# them: what the page must draw, and send, for a row added to dronesr/parameters.py.
SHARPEN_HELP = "0..2: extra sharpening after the network (0: none)"
EXTRA_SR_CONTROLS = [
    {"name": "sharpen", "default": 0, "help": SHARPEN_HELP, "kind": "range", "min": 0, "max": 2, "step": 0.1},
    {"name": "grain", "default": None, "help": "film grain: fine or coarse (default: the model's)", "kind": "choice", "options": ["fine", "coarse"]},
    {"name": "denoise_sky", "default": False, "help": "smooth the noise of a clear sky", "kind": "toggle"},
    {"name": "caption", "default": None, "help": "text for the result's XMP description", "kind": "text", "placeholder": "a caption"},
    {"name": "detail", "default": None, "help": "0..1: how much fine detail to add (default: the model's)", "kind": "range", "min": 0, "max": 1, "step": 0.05},
]
EXTRA_STYLE_CONTROLS = [{"name": "keep_sky", "default": False, "help": "leave the sky as the photo has it", "kind": "toggle"}]
UNDRAWABLE = [{"name": "Not A Name", "kind": "toggle"}, {"name": "dial", "kind": "knob"}, {"kind": "range"}, "text", None]


def test_a_parameter_added_to_the_table_is_drawn_and_sent_with_no_change_to_the_page(browser, tmp_path):
    """The page draws a model's controls from its note's "controls" (models.json): parameters it
    has never heard of get a control of their kind, labelled by name with the table's help as
    hint and tooltip, are sent as form fields once set away from their defaults, and are gone
    with a model that does not have them."""
    srgan, srresnet = ({**note, "controls": note["controls"] + EXTRA_SR_CONTROLS + UNDRAWABLE} if note["name"] == "srgan" else note for note in STUB_NOTES[:2])
    style = {"name": "style", "task": "style-transfer", "styles": ["mosaic", "udnie"],
             "controls": parameter_controls("style") + EXTRA_STYLE_CONTROLS}
    with stubbed_page(browser, tmp_path, [srgan, srresnet, style]) as tab:
        sharpen, field = tab.locator("#sr-sharpen"), tab.locator("#sr-sharpen-field")
        expect(field).to_be_visible()
        expect(tab.locator("label[for=sr-sharpen]")).to_have_text("Sharpen 0.0")
        expect(tab.locator("#sr-sharpen-hint")).to_have_text(SHARPEN_HELP)
        expect(field).to_have_attribute("title", SHARPEN_HELP)
        expect(sharpen).to_have_attribute("max", "2")
        expect(tab.locator("#sr-grain")).to_have_value("")  # no default: the model's, sent as nothing
        expect(tab.locator("#sr-grain option")).to_have_text(["the model's default", "fine", "coarse"])
        expect(tab.locator("#sr-denoise-sky")).not_to_be_checked()
        expect(tab.locator("label.option", has=tab.locator("#sr-denoise-sky"))).to_have_text("Denoise sky")
        expect(tab.locator("#sr-caption")).to_have_attribute("placeholder", "a caption")
        expect(tab.locator("#sr-detail-auto")).to_be_checked()  # a range whose default the model keeps
        expect(tab.locator("#sr-detail")).to_be_disabled()
        expect(tab.locator("#sr-detail-value")).to_have_text("default")
        # the table's own rows are drawn the same way: the ensemble list starts at auto
        expect(tab.locator("#sr-ensemble")).to_have_value("auto")
        # what is not a control (a bad name, an unknown kind) is left out, with no error
        assert tab.locator("#sr-parameters [data-parameter]").evaluate_all("fields => fields.map(f => f.dataset.parameter)") == [
            "fidelity", "restore", "outscale", "ensemble", "strip_metadata", "provenance", *(c["name"] for c in EXTRA_SR_CONTROLS)]

        tab.set_input_files("#sr-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
        tab.evaluate(RECORD_FORMS)
        send_and_wait(tab, "SRGAN · 400 × 400 px")  # at their defaults, nothing new is sent
        sharpen.fill("1.3")
        expect(tab.locator("#sr-sharpen-value")).to_have_text("1.3")
        tab.select_option("#sr-grain", "coarse")
        tab.check("#sr-denoise-sky")
        tab.fill("#sr-caption", "  the bridge  ")
        tab.uncheck("#sr-detail-auto")
        tab.locator("#sr-detail").fill("0.25")
        tab.select_option("#sr-ensemble", "true")
        send_and_wait(tab, "SRGAN · 400 × 400 px")
        sharpen.fill("0")  # back at its default: not sent
        tab.check("#sr-detail-auto")
        send_and_wait(tab, "SRGAN · 400 × 400 px")
        tab.check("input[name=model][value=srresnet]")  # a model without them
        expect(field).to_be_hidden()
        expect(tab.locator("#sr-caption")).to_be_hidden()
        send_and_wait(tab, "SRResNet · 400 × 400 px")
        assert tab.evaluate("window.sentForms") == [
            {"format": "png"},
            {"format": "png", "sharpen": "1.3", "grain": "coarse", "denoise_sky": "true", "caption": "the bridge", "detail": "0.25", "ensemble": "true"},
            {"format": "png", "grain": "coarse", "denoise_sky": "true", "caption": "the bridge", "ensemble": "true"},
            {"format": "png", "ensemble": "true"},
        ]
        tab.check("input[name=model][value=srgan]")  # back: what was set is still set
        expect(tab.locator("#sr-grain")).to_have_value("coarse")
        screenshot(tab, tmp_path, "frontend-new-parameter")

        # The style section draws its model's new parameter as well.
        keep_sky = tab.locator("#style-keep-sky")
        expect(keep_sky).to_be_visible()
        expect(tab.locator("#style-strength-value")).to_have_text("100%")
        tab.set_input_files("#style-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
        keep_sky.check()
        tab.locator("#style-strength").fill("0.6")
        tab.click("#style-send")
        expect(tab.locator("#style-meta")).to_contain_text("Udnie · strength 60%")  # the first in the page's order
        assert tab.evaluate("window.sentForms.slice(4)") == [{"style": "udnie", "format": "jpeg", "strength": "0.60", "keep_sky": "true"}]


def test_without_models_json_the_shipped_models_have_fidelity_and_restoration(browser, tmp_path):
    """models.json unreadable: the page's own list says srgan has fidelity (default 0.6) and
    restoration, srresnet restoration."""
    httpd = page_server(tmp_path)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    context = browser.new_context(viewport=VIEWPORT)
    try:
        tab = context.new_page()
        tab.route("**/models.json", lambda r: r.fulfill(status=500, content_type="text/plain", body="broken"))
        tab.route(STUB_API + "/**", lambda r: r.abort("connectionrefused"))
        tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/")
        expect(tab.locator("#sr-models input[name=model]")).to_have_count(2)
        expect(tab.locator("#sr-fidelity-value")).to_have_text("0.60")
        expect(tab.locator("#sr-restore-field")).to_be_visible()
        tab.check("input[name=model][value=srresnet]")
        expect(tab.locator("#sr-fidelity-field")).to_be_hidden()
        expect(tab.locator("#sr-restore-field")).to_be_visible()
    finally:
        context.close()
        httpd.shutdown()
        httpd.server_close()


def test_a_file_that_is_not_an_image_gets_a_readable_error(page, tmp_path):
    page.set_input_files("#sr-file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"this is not an image"}])
    expect(page.locator("#sr-sizes")).to_contain_text("cannot preview")
    page.click("#sr-send")
    error = page.locator("#sr-error")
    expect(error).to_contain_text("That file is not an image the server can read.", timeout=RESULT_TIMEOUT_MS)
    expect(error).to_contain_text("JPEG, PNG, WebP")  # the server's own sentence
    expect(page.locator("#sr-result-box")).to_be_hidden()
    expect(page.locator("#sr-send")).to_be_enabled()
    screenshot(page, tmp_path, "frontend-error")


def test_a_photo_over_the_limits_is_warned_about_before_sending(page):
    big = encode(synthetic_photo(2000, 1200), "PNG", compress_level=1)  # 2.4 MP: a 38.4 MP result
    page.set_input_files("#sr-file", files=[{"name": "big.png", "mimeType": "image/png", "buffer": big}])
    warning = page.locator("#sr-warning")
    expect(warning).to_contain_text("The result would be 8000 × 4800 px (38 MP), over the server's limit of 36 MP")
    expect(warning).to_contain_text("Shrink it to")


def test_a_photo_is_repainted_in_the_chosen_style(page, tmp_path):
    expect(page.locator("#style-status")).to_contain_text("The style-transfer model is ready", timeout=60_000)
    tiles = page.locator("#style-gallery .style-tile")
    expect(tiles).to_have_count(6)
    expect(tiles.first).to_contain_text("The Starry Night")
    page.set_input_files("#style-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    page.locator("#style-gallery .style-tile", has_text="The Scream").click()  # the tile, as a person does
    expect(page.get_by_role("radio", name="The Scream")).to_be_checked()
    page.click("#style-send")
    expect(page.locator("#style-result-box")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#style-error")).to_be_hidden()
    assert natural_size(page, "#style-result") == [100, 100]
    expect(page.locator("#style-meta")).to_contain_text("The Scream")
    screenshot(page, tmp_path, "frontend-style")


def test_style_blend_and_colour_preservation_are_sent(page, tmp_path):
    expect(page.locator("#style-status")).to_contain_text("The style-transfer model is ready", timeout=60_000)
    page.set_input_files("#style-file", files=[{"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}])
    expect(page.locator("#style-blend-field")).to_be_hidden()
    page.locator("#style-gallery .style-tile", has_text="The Scream").click()
    page.select_option("#style-blend", "mosaic")
    expect(page.locator("#style-blend-field")).to_be_visible()
    page.check("#style-preserve-colour")
    page.evaluate(RECORD_FORMS)
    page.click("#style-send")
    expect(page.locator("#style-meta")).to_contain_text("+ 30% Mosaic", timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("#style-meta")).to_contain_text("photo's colours")
    assert page.evaluate("window.sentForms") == [{"style": "the_scream", "format": "jpeg", "blend": "mosaic:0.30", "preserve_colour": "true"}]
    screenshot(page, tmp_path, "frontend-style-controls")


def test_server_down_network_failure_cancel_and_timeout_are_shown(page, server):
    photo = {"name": "drone.jpg", "mimeType": "image/jpeg", "buffer": drone_photo()}
    route = "**/predictions/srgan*"
    error = page.locator("#sr-error")
    # TorchServe's own answer when the model has no worker (the message it really sends).
    cors = {"Access-Control-Allow-Origin": server.page}
    page.route(route, lambda r: r.fulfill(status=503, content_type="application/json", headers=cors, body=(
        '{"code": 503, "type": "ServiceUnavailableException", "message": "Model \\"srgan\\" has no worker to serve inference request. '
        'Please use scale workers API to add workers."}')))
    page.set_input_files("#sr-file", files=[photo])
    page.click("#sr-send")
    expect(error).to_contain_text("busy or still starting")
    expect(error).to_contain_text("no worker")
    page.unroute(route)

    page.route(route, lambda r: r.abort("connectionrefused"))
    page.click("#sr-send")
    expect(error).to_contain_text(f"Could not reach the server. Nothing answered at {server.inference}")
    page.unroute(route)

    # An answer that never comes: progress with elapsed seconds, Cancel, and the 300 s timeout.
    start = datetime.datetime(2030, 1, 1, 12, 0, 0)
    page.clock.install(time=start)
    page.reload()
    expect(page.locator("#style-status")).to_contain_text("ready", timeout=60_000)  # its probe is done
    page.clock.pause_at(start + datetime.timedelta(hours=1))  # the page's time stands still from here
    page.route(route, lambda r: None)  # never answered
    page.set_input_files("#sr-file", files=[photo])
    page.click("#sr-send")
    progress = page.locator("#sr-progress")
    expect(progress).to_contain_text("Enlarging with SRGAN — 0 s (the page stops waiting after 300 s)")
    page.clock.run_for(3_000)
    expect(progress).to_contain_text("Enlarging with SRGAN — 3 s")
    page.click("#sr-cancel")
    expect(error).to_contain_text("Cancelled.")
    expect(progress).to_be_hidden()

    page.click("#sr-send")
    expect(progress).to_be_visible()
    page.clock.run_for(301_000)
    expect(error).to_contain_text("No answer after 300 seconds, so the page stopped waiting.")
    expect(page.locator("#sr-send")).to_be_enabled()


def test_only_the_page_origin_may_read_the_api(browser, server):
    """The same page loaded from another origin (localhost instead of 127.0.0.1) cannot read
    TorchServe's replies: its Access-Control-Allow-Origin names the page's own origin only."""
    probe = "async (url) => { try { const r = await fetch(url); await r.text(); return 'read'; } catch (e) { return 'blocked'; } }"
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(server.page + "/")
        assert tab.evaluate(probe, f"{server.inference}/ping") == "read"
        tab.goto(server.page.replace("127.0.0.1", "localhost") + "/")
        assert tab.evaluate(probe, f"{server.inference}/ping") == "blocked"
        assert tab.evaluate(probe, f"{server.management}/models") == "blocked"
    finally:
        context.close()


def test_a_dragged_region_is_enlarged_and_its_invention_map_laid_over_it(page, tmp_path):
    """The analyst's flow: drag a box around the drone on the photo, enlarge only that, then look
    at where srgan departs from what the photo supports."""
    photo = encode(real_photo(400, 300), "JPEG", quality=90)
    page.set_input_files("#sr-file", files=[{"name": "frame.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    frame = page.locator("#sr-region-photo")
    expect(frame).to_be_visible()
    box = frame.bounding_box()
    k = box["width"] / 400  # page pixels per photo pixel
    page.mouse.move(box["x"] + 150 * k, box["y"] + 100 * k)
    page.mouse.down()
    page.mouse.move(box["x"] + 190 * k, box["y"] + 130 * k, steps=4)
    page.mouse.move(box["x"] + 210 * k, box["y"] + 145 * k, steps=4)
    page.mouse.up()
    expect(page.locator("#sr-region-text")).to_contain_text("at (150, 100)", timeout=5000)
    width, height = (int(v) for v in re.search(r"(\d+) × (\d+) px", page.locator("#sr-region-text").inner_text()).groups())
    assert abs(width - 60) <= 2 and abs(height - 45) <= 2
    expect(page.locator("#sr-sizes")).to_contain_text(f"Region {width} × {height} px")
    assert page.locator("#sr-region-box").evaluate("b => !b.hidden && b.getBoundingClientRect().width > 0")
    page.evaluate(RECORD_FORMS)
    page.click("#sr-send")
    expect(page.locator("#sr-result-box")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    assert natural_size(page, "#sr-result") == [4 * width, 4 * height]
    assert page.evaluate("window.sentForms")[0]["region"] == f"150,100,{width},{height}"
    expect(page.locator("#sr-map-field")).to_be_visible()
    page.check("#sr-map")
    expect(page.locator("#sr-map-overlay")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    assert natural_size(page, "#sr-map-overlay") == [4 * width, 4 * height]
    assert page.evaluate("window.sentForms")[1]["output"] == "map"
    screenshot(page, tmp_path, "frontend-invention-map")  # test-output/: README's docs/invention_map_page.png is one
    page.uncheck("#sr-map")
    expect(page.locator("#sr-map-overlay")).to_be_hidden()
    page.click("#sr-region-clear")
    expect(page.locator("#sr-sizes")).to_contain_text("Photo 400 × 300 px")
