"""`python -m nbd`: the nbdsh shell."""

import sys

from .nbdsh import shell

sys.exit(shell())
