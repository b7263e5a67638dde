"""Route modules, one per resource; app.py mounts each router under /v1."""
