"""`python -m services.billing`: the same as `layers serve billing`, start-up checks included."""

import sys

from cli.main import main

sys.exit(main(["serve", "billing"]))
