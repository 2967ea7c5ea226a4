"""TEMPORARY shim while issue 14 moves the model file code into ``linescribe.modelfile``."""


def __getattr__(name: str):
    import linescribe.modelfile.export as moved

    return getattr(moved, name)
