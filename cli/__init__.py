"""The `layers` command: run the services, the embedded default, and operator (admin) commands."""
