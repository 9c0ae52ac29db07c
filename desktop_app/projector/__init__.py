"""Builds the read models from the event log; runs headless too (``python -m
desktop_app.projector``)."""

from desktop_app.projector.runner import Projector

__all__ = ["Projector"]
