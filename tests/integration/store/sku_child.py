"""Child process of the SKU race: ``python -m tests.integration.store.sku_child DB CHILD SKU
BARRIER``. Opens the app on DB, prints ``{"ready": true}``, waits for the BARRIER file, adds a
product with SKU through the real command bus and prints the outcome as one JSON line."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.domain.errors import DomainError


def main(argv: list[str]) -> None:
    path, child, sku, barrier = Path(argv[0]), int(argv[1]), argv[2], Path(argv[3])
    app = bootstrap(Settings(db_path=path, busy_timeout_ms=30_000), source="test", create=False)
    try:
        print(json.dumps({"ready": True}), flush=True)
        deadline = time.monotonic() + 60
        while not barrier.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the barrier never appeared")
            time.sleep(0.0005)
        try:
            result = app.commands.dispatch(
                c.AddProduct(sku=sku, name=f"Racer {child}", price=Decimal("1.00"), currency="EUR")
            )
            outcome = {"outcome": "ok", "product_id": result.aggregate_id}
        except DomainError as exc:
            outcome = {"outcome": "refused", "field": exc.field, "message": str(exc)}
        except Exception as exc:  # a bug: reported, never hidden
            outcome = {"outcome": "error", "message": f"{type(exc).__name__}: {exc}"}
        print(json.dumps({"child": child, **outcome}), flush=True)
    finally:
        app.close()


if __name__ == "__main__":
    main(sys.argv[1:])
