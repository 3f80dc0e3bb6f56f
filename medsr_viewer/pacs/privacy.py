"""Keep patient data out of the logs of the network libraries the PACS code uses.

``dicomweb_client`` and ``urllib3`` log each request's URL at debug level, and QIDO-RS puts
the search (patient name, ID, birth date, study date …) in the URL's query string;
``pynetdicom`` logs whole C-FIND identifiers. :func:`protect_logs` switches off pynetdicom's
message and identifier dumps and puts a filter on those loggers that removes query strings,
quoted and bracketed values and UIDs from every record before any handler sees it. The project's own PACS code logs only
counts and server names.
"""

from __future__ import annotations

import logging
import re

#: Packages whose loggers (each module's own) are scrubbed: a logger filter acts only on the
#: records made by that very logger, so each one gets it.
SCRUBBED_PACKAGES = ("dicomweb_client", "urllib3", "requests", "pynetdicom")

_QUERY = re.compile(r"\?[^\s\"']*")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_BRACKETED = re.compile(r"\[[^\]]*\]")
_UID = re.compile(r"\b\d+(?:\.\d+){4,}\b")


def scrub(text: str) -> str:
    """``text`` without URL query strings, quoted values and UIDs."""
    text = _QUERY.sub("?<query>", text)
    text = _QUOTED.sub('"…"', text)
    text = _BRACKETED.sub("[…]", text)
    return _UID.sub("<uid>", text)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message with :func:`scrub` (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` in place; always ``True``."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: drop its arguments
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        return True


_FILTER = ScrubFilter()


def protect_logs() -> None:
    """Silence pynetdicom's identifier dumps and put the scrubbing filter on every logger of
    :data:`SCRUBBED_PACKAGES` (imported first, so that their module loggers exist)."""
    import dicomweb_client.web  # noqa: F401 - creates its loggers
    import requests  # noqa: F401
    import urllib3.connectionpool  # noqa: F401
    from pynetdicom import _config

    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in SCRUBBED_PACKAGES]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
