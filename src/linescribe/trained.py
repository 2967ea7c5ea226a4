"""TEMPORARY shim while issue 14 moves the model file code into ``linescribe.modelfile``."""
from linescribe.modelfile.document import *  # noqa: F401,F403
from linescribe.modelfile.document import METADATA_KEY, model_from_document, parse_document, read_safetensors_document, read_safetensors_header  # noqa: F401
