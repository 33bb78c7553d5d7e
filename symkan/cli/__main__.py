"""``python -m symkan.cli``: the ``symkan`` command."""
import sys

from . import main

sys.exit(main())
