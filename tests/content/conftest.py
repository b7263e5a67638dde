from tests.content.world import world  # noqa: F401  (the fixture, for every content test)
