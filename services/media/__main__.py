"""`python -m services.media`: the same as `layers serve media`, start-up checks included."""

import sys

from cli.main import main

sys.exit(main(["serve", "media"]))
