"""The page in a real browser: Debian's headless chromium, driven by Selenium through the system
chromedriver, against ``linescribe serve`` in a subprocess. Screenshots are saved in
``test-artifacts/web/`` (git-ignored) and their paths printed."""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from generated import render_line

from linescribe.metrics import char_distance

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromedriver: apt-get install chromium chromium-driver (.ci/run installs them)",
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
TRUTH = "the cat sat on the mat"
WAIT_S = 60


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


def api_text(server_url: str, path: Path, **options: str) -> str:
    """What the API reads in the same file, to compare the page with."""
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
        return json.load(response)["text"]


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
    browser.find_element(By.ID, "files").send_keys(str(line_png))
    (card,) = wait_until_read(browser, 1)
    assert card.get_attribute("data-state") == "done"
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


def test_phone_layout_fits_the_screen(browser):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    try:
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        screenshot(browser, "page-phone.png")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_console_errors(browser):
    """A Content-Security-Policy violation or a script error would show here."""
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    print("console errors:", errors)
    # the non-image upload is answered 415 on purpose; Chrome logs every failed fetch
    assert [message for message in errors if "415" not in message] == []
