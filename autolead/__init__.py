from . import capture  # noqa: F401 registers the web form route
