"""Sample data for an empty desk: the question on first start and the load behind a progress
dialog. The loader is the entry point's (it writes through the command bus)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QMessageBox

from desktop_app.ui import formatting as fmt
from desktop_app.ui.tasks import Progress, TaskRunner
from desktop_app.ui.tools_menu import run_with_progress


class SampleSummary(Protocol):
    """What a sample-data load reports (``demo_data.DemoSummary`` is one)."""

    @property
    def orders(self) -> int:
        """How many sample orders were written."""
        ...


SampleLoader = Callable[[Progress], SampleSummary]
"""Loads sample data into an empty database, reporting progress (runs on a worker thread)."""


def ask_to_load(window: QMainWindow, then: Callable[[], None]) -> QMessageBox:
    """Ask (non-blocking) whether to fill the empty database; ``then()`` on Yes."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Load sample data?",
        "This database has no orders yet.\n\nLoad a set of realistic sample customers, "
        "products and orders so you can try Order Desk out? You can start a fresh "
        "database later.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        window,
    )
    box.setObjectName("sampleDataQuestion")
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def answered(result: int) -> None:
        if result == QMessageBox.StandardButton.Yes:
            then()

    box.finished.connect(answered)
    box.open()
    return box


def load(
    window: QMainWindow, tasks: TaskRunner, loader: SampleLoader, then: Callable[[], None]
) -> None:
    """Run ``loader`` behind a progress dialog, say how many orders it wrote, then
    ``then()`` (refresh the lists)."""

    def loaded(summary: SampleSummary) -> None:
        window.statusBar().showMessage(
            f"Loaded {fmt.format_int(summary.orders)} sample orders.", 8000
        )
        then()

    run_with_progress(
        window,
        tasks,
        "Loading sample data…",
        loader,
        loaded,
        context="The sample data could not be loaded.",
    )
