"""``--db`` names a file or a PostgreSQL server (config.parse_location)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.config import LocationError, ServerLocation, Settings, parse_location


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://maria@db.office:5432/orders",
        "postgres://maria@db.office/orders",
        "postgresql+psycopg://maria@db.office/orders?sslmode=verify-full",
        "postgresql:///orders?service=office",
        "postgresql://",
    ],
)
def test_server_urls_name_a_server(text: str) -> None:
    location = parse_location(text)
    assert isinstance(location, ServerLocation)
    assert location.url.startswith("postgresql://")
    assert location.url.split("://", 1)[1] == text.split("://", 1)[1]


@pytest.mark.parametrize("text", ["orders.sqlite3", "/data/orders.sqlite3", r"C:\desk\o.db", "a:b"])
def test_anything_else_is_a_file(text: str) -> None:
    assert parse_location(text) == Path(text)


def test_unknown_scheme_and_bad_port_are_refused_in_words() -> None:
    with pytest.raises(LocationError, match="not a database this program can open"):
        parse_location("mysql://root@host/db")
    with pytest.raises(LocationError, match="not a valid PostgreSQL URL"):
        parse_location("postgresql://maria@host:port/db")


def test_a_password_is_never_shown() -> None:
    location = parse_location("postgresql://maria:s3cret@db/orders?password=other")
    assert isinstance(location, ServerLocation)
    assert location.has_password
    assert "s3cret" not in location.display and "other" not in location.display
    assert "s3cret" not in str(location)
    plain = parse_location("postgresql://maria@db/orders")
    assert isinstance(plain, ServerLocation) and not plain.has_password


def test_settings_for_a_server_keep_the_server() -> None:
    server = ServerLocation("postgresql://maria@db/orders")
    settings = Settings.for_location(server, read_only=True)
    assert settings.server == server and settings.location == server and settings.read_only
    file_settings = Settings.for_location(Path("x.sqlite3"))
    assert file_settings.server is None and file_settings.location == Path("x.sqlite3")
