"""Screenshots of the viewer for the docs and for reports (run as modules)."""
