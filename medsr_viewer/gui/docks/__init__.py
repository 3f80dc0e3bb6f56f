"""Dock widgets: label layers, ROI metrics and the comparison of label layers."""
