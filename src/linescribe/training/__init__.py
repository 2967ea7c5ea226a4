"""Training with PyTorch Lightning. Only ``train`` and ``adapt`` import its Lightning modules
(``run``, ``adapt``, ``module``, ...), so that prediction and serving never load Lightning; ``config``
is plain dataclasses, which the command line reads for its options.
"""
