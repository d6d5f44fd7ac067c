"""Machine learning for Auto Lead, in plain Python (no database).

- `scoring`: lead conversion probability with reasons, a rule-based prior
  for the cold start and a naive-Bayes frequency baseline to compare with.
- `tagging`: ticket and enquiry tag suggestions from subject + description.
- `chatbot`: retrieval answers over the FAQ and intents for questions about
  the customer's own records.

The Tryton models call these with plain data (DataFrames, lists, dicts) and
store the fitted objects as bytes (`dumps`/`loads`) in Binary fields.
"""
import pickle
import zlib

FORMAT_VERSION = 2
# Fitted models by key: loading one costs more than predicting with it
_fitted = {}


def fitted_model(key, load):
    "The model of key, loaded by load() once per process (a few are kept)"
    if key not in _fitted:
        if len(_fitted) > 16:
            _fitted.clear()
        _fitted[key] = load()
    return _fitted[key]


class NotEnoughData:
    "The result of a training that was refused: falsy, with the reason"

    def __init__(self, reason, examples=0, minimum=0, classes=None,
            figure=None):
        self.reason = reason
        self.examples = examples
        self.minimum = minimum
        self.classes = dict(classes or {})
        # the figure that fell short (a cross-validated ROC-AUC), if any
        self.figure = figure

    def __bool__(self):
        return False

    def __repr__(self):
        return (f'NotEnoughData({self.reason!r}, examples={self.examples}, '
            f'minimum={self.minimum}, classes={self.classes})')


class ModelVersionError(ValueError):
    "The stored model was written by another version: retrain it"


def dumps(obj, kind):
    "Serialise a fitted object to compressed bytes with a version stamp"
    import sklearn
    payload = {
        'format': FORMAT_VERSION,
        'kind': kind,
        'sklearn': sklearn.__version__,
        'object': obj,
        }
    return zlib.compress(
        pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), 3)


def loads(data, kind):
    """Load bytes written by `dumps`.

    Only load bytes this application stored itself: pickle runs code.
    """
    import sklearn
    try:
        payload = pickle.loads(zlib.decompress(bytes(data)))
    except Exception as exception:
        raise ModelVersionError(f'unreadable model: {exception}') \
            from exception
    if (not isinstance(payload, dict)
            or payload.get('format') != FORMAT_VERSION
            or payload.get('kind') != kind):
        raise ModelVersionError('model format or kind differs')
    if payload.get('sklearn') != sklearn.__version__:
        raise ModelVersionError(
            f"model written with scikit-learn {payload.get('sklearn')}, "
            f"running {sklearn.__version__}")
    return payload['object']
