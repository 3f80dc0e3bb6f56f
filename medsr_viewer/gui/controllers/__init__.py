"""Controllers that coordinate several parts of the window (opening studies, models)."""
