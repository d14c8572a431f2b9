"""Browser tests: Debian's Chromium, driven by Playwright, against the UI of the real test stack.

Playwright's own browser download cannot run here, so the tests launch the system
Chromium (`python3 dev.py test` installs it). Screenshots of every page land in
test-artifacts/browser/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import free_port
from ui_login import new_user

from sentinel.config import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def ui_url(stack) -> Iterator[str]:
    """The stack's UI when `sentinel up` runs one, else a `python -m ui` of our own pointed at the stack."""
    if _answers(stack.url("ui")):
        yield stack.url("ui")
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ui", "--port", str(port)],
            env=stack.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"python -m ui did not come up on {url}; see {log_path}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; `python3 dev.py test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def analyst(stack) -> tuple[str, str]:
    """An analyst's (name, password) in the stack's database."""
    return new_user(stack.settings.database_url)


@pytest.fixture(scope="session")
def admin(stack) -> tuple[str, str]:
    """An admin's (name, password) in the stack's database."""
    return new_user(stack.settings.database_url, "admin")


@pytest.fixture
def page(browser, ui_url, analyst):
    """A browser tab logged in to the UI as the analyst, through the login page."""
    yield from _logged_in_tab(browser, ui_url, analyst)


@pytest.fixture
def admin_page(browser, ui_url, admin):
    """A browser tab logged in to the UI as an admin."""
    yield from _logged_in_tab(browser, ui_url, admin)


def _logged_in_tab(browser, ui_url: str, user: tuple[str, str]):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    # JavaScript errors and console errors (CSP violations among them), for tests to check.
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on("console", lambda message: message.type == "error" and problems.append(message.text))
    opened.goto(f"{ui_url}/login")
    opened.get_by_label("Name").fill(user[0])
    opened.get_by_label("Password").fill(user[1])
    opened.get_by_role("button", name="Log in").click()
    opened.wait_for_selector("#signed-in-as")
    opened.problems = problems
    yield opened
    context.close()


@pytest.fixture
def screenshot(request):
    """Save the whole page (the test's `page`, or its `admin_page`) as test-artifacts/browser/<name>.png."""
    tab = request.getfixturevalue("admin_page" if "admin_page" in request.fixturenames else "page")

    def save(name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return save
