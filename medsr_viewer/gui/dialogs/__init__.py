"""Dialogs and message banners."""
