"""Order Desk: an event-sourced desktop program for managing and auditing sales orders."""

__version__ = "0.1.0"
