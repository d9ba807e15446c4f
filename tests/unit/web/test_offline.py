"""Pages and the API docs work inside a hospital network: every asset from the app."""

import re
from pathlib import Path

from fastapi.testclient import TestClient

from monitor.config import Settings
from monitor.runtime import Runtime
from monitor.storage.migrate import upgrade
from monitor.web.app import create_app

EXTERNAL = re.compile(r"""(src|href)=["']?(https?:)?//""")


def client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    return TestClient(create_app(Runtime(Settings(database_url=url))))


def test_api_docs_load_swagger_from_the_app_itself(tmp_path: Path) -> None:
    c = client(tmp_path)
    page = c.get("/docs")
    assert page.status_code == 200 and not EXTERNAL.search(page.text)
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", page.text):
        assert c.get(asset).status_code == 200, asset


def test_login_page_and_its_assets_are_local(tmp_path: Path) -> None:
    c = client(tmp_path)
    page = c.get("/login")
    assert page.status_code == 200 and not EXTERNAL.search(page.text)
    assert c.get("/static/app.css").status_code == 200
    assert "@import" not in c.get("/static/app.css").text and "url(http" not in \
        c.get("/static/app.css").text
