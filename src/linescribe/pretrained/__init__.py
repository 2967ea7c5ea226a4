"""The models and language models that ship inside the package (data only: ``linescribe.modelfile.names``
resolves their names)."""
