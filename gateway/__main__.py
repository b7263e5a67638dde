"""`python -m gateway` runs the REST gateway."""

from gateway.main import main

if __name__ == "__main__":
    main()
