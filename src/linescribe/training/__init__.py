"""Training with PyTorch Lightning. Only ``linescribe train`` imports this package, so that
prediction and serving never load Lightning."""
