"""Allow ``python -m medsr_viewer.cli`` as a synonym of the ``medsr`` command."""

from medsr_viewer.cli.main import entry

entry()
