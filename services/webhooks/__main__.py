"""`python -m services.webhooks`: the same as `layers serve webhooks`, start-up checks included."""

import sys

from cli.main import main

sys.exit(main(["serve", "webhooks"]))
