"""`python -m services.renderer`: the same as `layers serve renderer`, start-up checks included."""

import sys

from cli.main import main

sys.exit(main(["serve", "renderer"]))
