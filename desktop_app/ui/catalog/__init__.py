"""Catalog dialogs: customers (register, rename) and products (add, rename, change price,
discontinue)."""

from desktop_app.ui.catalog.customers import CustomersDialog
from desktop_app.ui.catalog.products import ProductsDialog

__all__ = ["CustomersDialog", "ProductsDialog"]
