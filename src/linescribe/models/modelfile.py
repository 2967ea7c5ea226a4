"""TEMPORARY shim while issue 14 moves the model file code into ``linescribe.modelfile``."""
from linescribe.modelfile.document import TrainedModel  # noqa: F401
from linescribe.modelfile.opening import read_model_document  # noqa: F401
from linescribe.modelfile.weights import load_model_file, save_model  # noqa: F401
