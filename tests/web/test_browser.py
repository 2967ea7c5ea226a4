"""The page in a real browser: Debian's headless chromium, driven by Selenium through the system
chromedriver, against ``linescribe serve`` in a subprocess. Screenshots are saved in
``test-artifacts/web/`` (git-ignored) and their paths printed.

The tests run in order on one page: lines (desktop, then phone), then a page in page layout
(desktop, then phone)."""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from generated import printed_page, render_line
from PIL import Image

from linescribe.metrics import char_distance

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Debian's chromium and chromedriver: apt-get install chromium chromium-driver (.ci/run installs them)",
    ),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
TRUTH = "the cat sat on the mat"
WAIT_S = 60
READABLE_HEIGHT = 64  # app.js: a line image is not shrunk lower than this to fit its card
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


@pytest.fixture(scope="module")
def server_url(start_server) -> str:
    return start_server("--workers", "2")[1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def line_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lines") / "cat line.png"
    render_line(TRUTH, size=32).save(path)
    return path


@pytest.fixture(scope="module")
def wide_line_png(tmp_path_factory) -> Path:
    """A line as a photo gives it: wider than the card at its natural size (about 1300 x 190)."""
    path = tmp_path_factory.mktemp("lines") / "wide line.png"
    line = render_line(TRUTH, size=32)
    line.resize((line.width * 4, line.height * 4), Image.Resampling.BICUBIC).save(path)
    return path


@pytest.fixture(scope="module")
def page_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "page.png"
    Image.fromarray(printed_page().image).save(path)
    return path


def api_read(server_url: str, path: Path, **options: str) -> dict:
    """What the API answers for the same file, to compare the page with."""
    boundary = "browser-test"
    fields = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in options.items()
    )
    body = (
        fields.encode()
        + f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n\r\n'.encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        server_url + "/api/v1/recognize",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        return json.load(response)


def api_text(server_url: str, path: Path, **options: str) -> str:
    return api_read(server_url, path, **options)["text"]


def cards(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#results li.card")


def wait_until_read(driver, count: int) -> list:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT_S).until(
        lambda d: (
            len(cards(d)) == count and all(card.get_attribute("data-state") in ("done", "failed") for card in cards(d))
        )
    )
    return cards(driver)


def card_text(card) -> str:
    from selenium.webdriver.common.by import By

    return card.find_element(By.CSS_SELECTOR, ".text").get_attribute("textContent")


def box(driver, element) -> dict:
    """The element's place on the screen (CSS pixels), and for an image its natural size."""
    return driver.execute_script(
        """
        const element = arguments[0], shown = element.getBoundingClientRect();
        return { left: shown.left, top: shown.top, right: shown.right, bottom: shown.bottom,
                 width: shown.width, height: shown.height,
                 naturalWidth: element.naturalWidth, naturalHeight: element.naturalHeight };
        """,
        element,
    )


def inner_width(driver, element) -> int:
    return driver.execute_script("return arguments[0].clientWidth", element)


def scrolls_sideways(driver, element) -> bool:
    return driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", element)


def assert_readable_line(driver, card) -> None:
    """The line image at its natural size, or shrunk (aspect kept) to the card's width but never
    lower than READABLE_HEIGHT: then it scrolls sideways in its frame. Its text right under it."""
    from selenium.webdriver.common.by import By

    figure = card.find_element(By.CSS_SELECTOR, ".figure")
    image = box(driver, figure.find_element(By.TAG_NAME, "img"))
    natural_width, natural_height = image["naturalWidth"], image["naturalHeight"]
    frame_width = inner_width(driver, figure.find_element(By.CSS_SELECTOR, ".frame"))
    readable_width = natural_width * min(natural_height, READABLE_HEIGHT) / natural_height
    assert image["width"] == pytest.approx(min(natural_width, max(frame_width, readable_width)), abs=1)
    assert image["height"] == pytest.approx(image["width"] * natural_height / natural_width, abs=1)
    assert scrolls_sideways(driver, figure) == (image["width"] > frame_width + 1)
    text = box(driver, card.find_element(By.CSS_SELECTOR, ".text"))
    assert 0 <= text["top"] - box(driver, figure)["bottom"] <= 24


def marked(elements, class_name: str) -> list[int]:
    """Positions of the elements that have the class."""
    return [n for n, element in enumerate(elements) if class_name in (element.get_attribute("class") or "").split()]


def scroll_to(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({ block: 'start' })", element)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_upload_a_line_and_read_its_text_on_the_page(browser, server_url, line_png):
    from selenium.webdriver.common.by import By

    browser.get(server_url + "/")
    assert "linescribe" in browser.title
    toolbar = browser.find_element(By.ID, "toolbar")
    assert not toolbar.is_displayed(), "nothing to copy or clear yet"
    assert browser.find_element(By.ID, "drop-title").text == "Drop line images here"
    screenshot(browser, "page-desktop-empty.png")
    browser.find_element(By.ID, "files").send_keys(str(line_png))
    (card,) = wait_until_read(browser, 1)
    assert card.get_attribute("data-state") == "done"
    assert toolbar.is_displayed()
    assert_readable_line(browser, card)
    image = box(browser, card.find_element(By.CSS_SELECTOR, ".figure img"))
    assert image["width"] == image["naturalWidth"], "narrower than the card: shown at its natural size"
    text = card_text(card)
    assert text and text == api_text(server_url, line_png)
    assert char_distance(TRUTH, text) / len(TRUTH) < 0.4, text
    assert card.find_element(By.CSS_SELECTOR, ".name").text == "cat line.png"
    assert card.find_element(By.CSS_SELECTOR, ".confidence").text.endswith("%")
    for shaded in card.find_elements(By.CSS_SELECTOR, ".text .unsure"):
        assert "%" in shaded.get_attribute("title")
    assert browser.find_element(By.ID, "progress").get_attribute("hidden") is not None
    assert screenshot(browser, "page-desktop.png").stat().st_size > 10_000


def test_paste_a_line_and_a_non_image_then_change_options(browser, server_url, line_png):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server_url + "/")  # on its own, not on the page the test before left behind
    browser.find_element(By.ID, "files").send_keys(str(line_png))
    wait_until_read(browser, 1)
    payload = base64.b64encode(line_png.read_bytes()).decode()
    browser.execute_script(
        """
        const transfer = new DataTransfer();
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], "clipboard.png", { type: "image/png" }));
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer }));
        const drop = new DataTransfer();
        drop.items.add(new File(["not an image"], "notes.png", { type: "image/png" }));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: drop, bubbles: true }));
        """,
        payload,
    )
    first, pasted, dropped = wait_until_read(browser, 3)
    assert card_text(pasted) == card_text(first)
    assert pasted.find_element(By.CSS_SELECTOR, ".name").text == "pasted image 1.png"
    assert dropped.get_attribute("data-state") == "failed"
    assert "not an image" in dropped.find_element(By.CSS_SELECTOR, ".status-text").text

    Select(browser.find_element(By.ID, "decoder")).select_by_value("beam")
    time.sleep(0.2)  # the change re-reads every image
    first, pasted, dropped = wait_until_read(browser, 3)
    assert card_text(first) == api_text(server_url, line_png, decoder="beam")
    assert first.find_elements(By.CSS_SELECTOR, ".alternatives li")
    first.find_element(By.CSS_SELECTOR, ".alternatives summary").click()
    screenshot(browser, "page-desktop-beam.png")

    browser.find_element(By.CSS_SELECTOR, "#results li.card:last-child .remove").click()
    browser.find_element(By.ID, "download-txt").click()
    download = browser.downloads / "linescribe.txt"
    for _ in range(50):
        if download.exists():
            break
        time.sleep(0.1)
    assert download.read_text(encoding="utf-8") == f"{card_text(first)}\n{card_text(pasted)}\n"


def test_a_wide_line_is_shrunk_to_the_card_width(browser, wide_line_png):
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "files").send_keys(str(wide_line_png))
    *_, card = wait_until_read(browser, 3)
    image = box(browser, card.find_element(By.CSS_SELECTOR, ".figure img"))
    assert 600 <= image["width"] < image["naturalWidth"]
    for card in cards(browser):
        assert_readable_line(browser, card)
    scroll_to(browser, cards(browser)[0])
    screenshot(browser, "page-desktop-lines.png")


def test_phone_layout_fits_the_screen(browser):
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        screenshot(browser, "page-phone.png")
        for card in cards(browser):
            assert_readable_line(browser, card)
        assert scrolls_sideways(browser, cards(browser)[-1].find_element(By.CSS_SELECTOR, ".figure"))
        scroll_to(browser, cards(browser)[0])
        screenshot(browser, "page-phone-lines.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_page_layout_outlines_each_line_linked_to_its_text(browser, server_url, page_png):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.find_element(By.ID, "clear").click()
    assert not cards(browser) and not browser.find_element(By.ID, "toolbar").is_displayed()
    Select(browser.find_element(By.ID, "decoder")).select_by_value("greedy")
    Select(browser.find_element(By.ID, "layout")).select_by_value("page")
    assert browser.find_element(By.ID, "drop-title").text == "Drop page images here"
    browser.find_element(By.ID, "files").send_keys(str(page_png))
    (card,) = wait_until_read(browser, 1)
    assert card.get_attribute("data-state") == "done"
    assert browser.find_element(By.ID, "toolbar").is_displayed()

    found = api_read(server_url, page_png, layout="page")["images"][0]["lines"]
    texts = card.find_elements(By.CSS_SELECTOR, ".text .line")
    outlines = card.find_elements(By.CSS_SELECTOR, ".outlines polygon")
    assert len(found) >= 3
    assert len(outlines) == len(texts) == len(found)
    assert [text.get_attribute("textContent") for text in texts] == [line["text"] for line in found]
    assert_outlines_on_the_page(browser, card, found)
    assert box(browser, card.find_element(By.CSS_SELECTOR, ".frame img"))["width"] >= 600

    ActionChains(browser).move_to_element(texts[1]).perform()
    assert marked(outlines, "hovered") == marked(texts, "hovered") == [1]
    ActionChains(browser).move_to_element(outlines[2]).perform()
    assert marked(outlines, "hovered") == marked(texts, "hovered") == [2]
    texts[0].click()
    assert browser.switch_to.active_element == texts[0]
    assert marked(outlines, "focused") == marked(texts, "focused") == [0]
    texts[0].send_keys(Keys.TAB)
    assert browser.switch_to.active_element == texts[1]
    assert marked(outlines, "focused") == [1]
    outlines[3].click()
    assert browser.switch_to.active_element == texts[3]
    assert marked(outlines, "focused") == marked(texts, "focused") == [3]
    scroll_to(browser, card)
    screenshot(browser, "page-mode-desktop.png")


def assert_outlines_on_the_page(driver, card, found: list[dict]) -> None:
    """Each outline lies where the API's polygon is, scaled with the page image as it is shown."""
    from selenium.webdriver.common.by import By

    image = box(driver, card.find_element(By.CSS_SELECTOR, ".frame img"))
    frame_width = inner_width(driver, card.find_element(By.CSS_SELECTOR, ".frame"))
    assert image["width"] == pytest.approx(frame_width, abs=1), "the page fills the card's width"
    scale = image["width"] / image["naturalWidth"]
    for outline, line in zip(card.find_elements(By.CSS_SELECTOR, ".outlines polygon"), found, strict=True):
        shown = box(driver, outline)
        xs, ys = [x for x, _ in line["polygon"]], [y for _, y in line["polygon"]]
        assert shown["left"] == pytest.approx(image["left"] + min(xs) * scale, abs=2)
        assert shown["right"] == pytest.approx(image["left"] + max(xs) * scale, abs=2)
        assert shown["top"] == pytest.approx(image["top"] + min(ys) * scale, abs=2)
        assert shown["bottom"] == pytest.approx(image["top"] + max(ys) * scale, abs=2)


def test_page_layout_on_a_phone(browser, server_url, page_png):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        (card,) = cards(browser)
        assert_outlines_on_the_page(browser, card, api_read(server_url, page_png, layout="page")["images"][0]["lines"])
        scroll_to(browser, card)
        screenshot(browser, "page-mode-phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_console_errors(browser):
    """A Content-Security-Policy violation or a script error would show here."""
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    print("console errors:", errors)
    # the non-image upload is answered 415 on purpose; Chrome logs every failed fetch
    assert [message for message in errors if "415" not in message] == []
