from . import capture  # noqa: F401 registers the web form route
from . import chatbot  # noqa: F401 registers the chatbot routes
