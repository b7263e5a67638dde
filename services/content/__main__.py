"""`python -m services.content`: the same as `layers serve content`, start-up checks included."""

import sys

from cli.main import main

sys.exit(main(["serve", "content"]))
