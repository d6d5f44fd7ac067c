from . import capture  # noqa: F401 registers the web form route
from . import portal  # noqa: F401 registers the customer portal routes
from . import chatbot  # noqa: F401 registers the chatbot routes
from . import rest  # noqa: F401 checks the parameters of the REST search
