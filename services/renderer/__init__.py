"""The renderer: turns one render message into one MP4 and a thumbnail."""
