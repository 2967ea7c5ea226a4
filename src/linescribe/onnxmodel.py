"""TEMPORARY shim while issue 14 moves the model file code into ``linescribe.modelfile``."""


def __getattr__(name: str):
    import linescribe.modelfile.cache as cache
    import linescribe.modelfile.onnx_runtime as moved

    return getattr(cache if hasattr(cache, name) else moved, name)
