"""`python -m gateway` runs the REST gateway: the same as `layers serve gateway`, start-up checks included."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", "gateway"]))
