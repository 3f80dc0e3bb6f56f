"""Allow ``python -m medsr_viewer.cli`` as a synonym of the ``medsr`` command."""

import sys

from medsr_viewer.cli.main import main

sys.exit(main())
