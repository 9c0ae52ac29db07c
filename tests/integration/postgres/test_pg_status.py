"""`desktop-app-admin status` on a PostgreSQL server (issue 10: verify, status and rebuild work
on both backends)."""

from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.store.postgres.database import init_postgres
from tests.pg_cluster import Login


def _status(url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["status", "--db", url, "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_status_on_a_server_reports_the_head_the_lag_and_no_file_facts(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_postgres(pg_url)
    assert main(["demo", "--db", pg_url, "--orders", "12"]) == 0  # demo projects to the head
    data = _status(pg_url, capsys)
    assert data["server"] is True
    head = data["head"]
    assert isinstance(head, int) and head > 12
    assert data["checkpoint"] == head and data["lag"] == 0
    assert data["read_only"] is False
    assert "db_bytes" not in data and "backups" not in data  # the server's business
    assert main(["status", "--db", pg_url]) == 0
    text = capsys.readouterr().out
    assert f"Events (head):        {head:,}" in text
    assert "Projector lag:        0 events" in text
    assert "pg_dump" in text and "WAL size" not in text


def test_status_as_an_auditor_says_read_only(
    pg_url: str, pg_login: Login, capsys: pytest.CaptureFixture[str]
) -> None:
    roles = init_postgres(pg_url).roles
    assert main(["demo", "--db", pg_url, "--orders", "3"]) == 0
    auditor = pg_login(pg_url, "audrey", roles.auditor)
    data = _status(auditor, capsys)
    assert data["read_only"] is True and data["read_only_reason"]
    assert data["lag"] == 0
