"""Slice panes, the study viewer (one or three planes), the before/after panes and the readout."""
