"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against live_server.

Screenshots of every page visited go to artifacts/screenshots/ (not committed) so people can look.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def pytest_collection_modifyitems(config, items):
    # Browser tests last: Playwright's event loop then starts after every other test has run.
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath))
    if shutil.which(CHROMIUM) is None:
        skip = pytest.mark.skip(
            reason=f"{CHROMIUM} is missing: apt-get install chromium "
            "fonts-noto-cjk (./dev test installs them when run as root)"
        )
        for item in items:
            if "browser" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, django_db_setup):
    """Debian's Chromium with the flags this machine needs.

    Depending on django_db_setup creates the test database before Playwright's event loop
    starts. While browsers run, the loop sits in the test thread, and the ORM calls of fixtures
    and database teardown there are ordinary blocking calls that Django would otherwise refuse:
    allow them for the browser tests' session (subprocess tests strip the flag).
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def shoot():
    """Save a screenshot: shoot(page, "ticket-page", "en", "desktop")."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page, name: str, language: str, width: str = "desktop") -> Path:
        path = SCREENSHOTS / f"{name}-{language}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shoot


@pytest.fixture
def sign_in(live_server):
    """Sign a browser page in through the real login form, in a language."""

    def _sign_in(page, username: str, password: str = "pw-Secret-123", language: str = "en"):
        page.context.add_cookies(
            [{"name": "django_language", "value": language, "url": live_server.url}]
        )
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return _sign_in
