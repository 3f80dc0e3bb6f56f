"""Headless command line (``medsr``): every user-facing action, scriptable and testable."""
