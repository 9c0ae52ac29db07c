"""The application composed on a server database: two workstations (two logins of the clerk
role) share one log; an auditor workstation reads and cannot change anything; the CLI's
``history`` works on a server URL; an unreachable server is a sentence."""

from __future__ import annotations

import json

import psycopg
import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import StoreReadOnlyError, StoreUnavailableError
from desktop_app.bootstrap import App, bootstrap
from desktop_app.cli import main
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.postgres.database import init_postgres
from tests.integration.jobs.support import add_customer, add_product, place_order
from tests.pg_cluster import Login


def _open(url: str, tmp_path_factory: pytest.TempPathFactory, **options: object) -> App:
    settings = Settings.for_location(
        ServerLocation(url), key_dir=tmp_path_factory.mktemp("keys"), **options
    )
    return bootstrap(settings, source="test")


def test_two_workstations_share_one_log(
    pg_url: str, pg_login: Login, tmp_path_factory: pytest.TempPathFactory
) -> None:
    roles = init_postgres(pg_url).roles
    maria = _open(pg_login(pg_url, "maria", roles.clerk), tmp_path_factory)
    tom = _open(pg_login(pg_url, "tom", roles.clerk), tmp_path_factory)
    audrey = _open(pg_login(pg_url, "audrey", roles.auditor), tmp_path_factory)
    try:
        assert maria.info.details["backend"] == "postgresql" and not maria.read_only
        customer = add_customer(maria, "Ann")
        product = add_product(maria, "MUG-1")
        order = place_order(maria, customer, product)
        # Tom's workstation sees Maria's order once its projector has caught up.
        assert tom.projector is not None
        tom.projector.run_once()
        detail = tom.queries.ask(q.GetOrder(order_id=order))
        assert detail is not None and detail.order.customer_name == "Ann"
        # ... and can work on it: the version check is the server's.
        tom.commands.dispatch(c.ConfirmOrder(order_id=order))
        history = maria.queries.ask(q.GetOrderHistory(order_id=order))
        assert [entry.type_name for entry in history][-1] == "OrderConfirmed"
        # The SKU is a server-wide unique key.
        with pytest.raises(Exception, match="already used"):
            add_product(tom, "MUG-1")
        # The auditor reads everything and changes nothing.
        assert audrey.read_only
        assert audrey.projector is not None
        audrey.projector.run_once()
        assert audrey.queries.ask(q.GetOrder(order_id=order)) is not None
        with pytest.raises(StoreReadOnlyError):
            audrey.commands.dispatch(c.CancelOrder(order_id=order, reason="audit"))
        result = audrey.queries.ask(q.VerifyHistory())
        assert result.ok, result.problem
    finally:
        for app in (maria, tom, audrey):
            app.close()


def test_cli_history_on_a_server(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    init_postgres(pg_url)
    app = _open(pg_url, tmp_path_factory)
    try:
        order = place_order(app, add_customer(app, "Bea"), add_product(app, "CUP-2"))
    finally:
        app.close()
    assert main(["history", order, "--db", pg_url]) == 0
    out = capsys.readouterr().out
    assert "OrderPlaced" in out
    # The role the server recorded (the test logs in as the cluster's superuser).
    assert "server role: postgres" in out
    assert main(["history", order, "--json", "--db", pg_url]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line["server_role"] for line in lines if line["kind"] == "event"} == {"postgres"}


def test_an_unreachable_server_at_start_is_a_sentence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://maria@127.0.0.1:1/orders?connect_timeout=3"
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        bootstrap(Settings.for_location(ServerLocation(url)), source="test")
    assert main(["history", "SO-000001", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "Traceback" not in err


def test_verify_on_a_server_finds_a_forged_event_and_checks_a_digest(
    pg_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    init_postgres(pg_url)
    app = _open(pg_url, tmp_path_factory)
    try:
        place_order(app, add_customer(app, "Cid"), add_product(app, "PEN-3"))
    finally:
        app.close()
    digest = tmp_path_factory.mktemp("digest") / "head.json"
    assert main(["verify", "--db", pg_url, "--export-digest", str(digest)]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "Digest written" in out
    assert "postgresql://" in digest.read_text()
    # The owner forges history: the triggers must be switched off first (only the owner can).
    with psycopg.connect(pg_url) as con:
        con.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        con.execute("UPDATE events SET payload = replace(payload, 'Cid', 'Eve') WHERE position = 1")
    assert main(["verify", "--db", pg_url, "--against", str(digest)]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "#1" in out
    assert "append-only triggers are missing or disabled: events_append_only" in out
