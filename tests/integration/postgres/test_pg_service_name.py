"""A libpq service name typed in File ▸ Connect to server… reaches the server through the
user's service file (no address, no password in Order Desk's hands)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.ui.connect_dialog import parse_server


def test_a_service_name_opens_the_database_the_service_file_names(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_postgres(pg_url)
    parts = urlsplit(pg_url)
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(
        f"[office]\nhost={parts.hostname}\nport={parts.port}\n"
        f"dbname={parts.path.lstrip('/')}\nuser={parts.username}\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(service_file))
    location = parse_server("office")
    assert location.url == "postgresql://?service=office"
    db = open_postgres(location.url)
    try:
        assert db.facts.session_user == parts.username
        assert not db.read_only
    finally:
        db.close()
