"""Shared fixtures: tiny generated line datasets and a tiny trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

from generated import OVERFIT_TEXTS, tiny_train_config, write_gt_folder


@pytest.fixture(scope="session", autouse=True)
def export_cache(tmp_path_factory) -> Path:
    """The onnx backend's export cache in a temporary folder, not the user's ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("linescribe-cache")
    os.environ["LINESCRIBE_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def overfit_model(tmp_path_factory) -> Path:
    """A model file that reads OVERFIT_TEXTS back exactly (trained once per test session)."""
    from linescribe.training.run import train

    root = tmp_path_factory.mktemp("overfit")
    data = write_gt_folder(root / "lines", OVERFIT_TEXTS)
    result = train(tiny_train_config(data, root / "run"))
    assert result.best_val_cer == 0.0, f"tiny model did not learn its lines (CER {result.best_val_cer})"
    return result.model_path


@pytest.fixture(scope="session")
def overfit_lines(overfit_model) -> Path:
    return overfit_model.parents[1] / "lines"
