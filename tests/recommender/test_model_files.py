"""Issue 15, lower finding 3: model files are read with torch.load(weights_only=True), so a
planted registry file cannot run code; an old-format file is refused with what to do."""

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recommender.ml.affinity import Popularity
from recommender.ml.training import model_load, model_save
from recommender.ml.training_data import Vocabulary
from recommender.ml.txt import TxT, TxTConfig

RAN: list[str] = []


class Planted:
    """Unpickling this would call RAN.append: the stand-in for a payload that runs code."""

    def __reduce__(self) -> tuple:
        return (RAN.append, ("code ran",))


def saved(path: Path) -> TxT:
    """A tiny model saved the current way, with numpy values among its plain data."""
    config = TxTConfig(items=3, offer_dim=4, context_sizes=[2], d_model=8, heads=2, layers=1)
    torch.manual_seed(0)
    model = TxT(config, np.ones((2, 4), dtype=np.float32)).eval()
    model_save(
        model=model,
        path=path,
        vocabulary=Vocabulary(
            items=["none", "fries", "cola"],
            offers=[np.str_("O1"), "O2"],
            context={"tier": ["none", "value"]},
        ),
        split=SimpleNamespace(  # type: ignore[arg-type]  # only its dates are saved
            cutoff=dt.date(2026, 3, 1),
            end=dt.date(2026, 3, 29),
            validation_start=dt.date(2026, 2, 1),
        ),
        space=SimpleNamespace(version=np.int64(3)),  # type: ignore[arg-type]
        popularity=Popularity(
            ["O1", "O2"], np.array([2.0, 1.0]), np.zeros((1, 2)), np.array([10.0, 10.0])
        ),
    )
    return model


def test_a_saved_model_loads_with_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "txt.pt"
    model = saved(path)

    loaded, artifact = model_load(path=path)

    raw = torch.load(path, weights_only=True)  # what model_load relies on
    assert raw["vocabulary"]["offers"] == ["O1", "O2"]
    assert (artifact["embedding_space"], type(artifact["embedding_space"])) == (3, int)
    assert artifact["popularity"]["overall"] == [2.0, 1.0]
    assert artifact["popularity"]["exposure"] == [10.0, 10.0]
    assert artifact["cutoff"] == "2026-03-01"
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    path = tmp_path / "txt.pt"
    torch.save({"kind": "TxT", "config": Planted()}, path)

    with pytest.raises(Exception, match="Retrain the recommender") as refused:
        model_load(path=path)

    assert RAN == []
    assert "txt.pt holds more than weights and plain values" in str(refused.value)


def test_an_old_file_with_numpy_values_says_to_retrain(tmp_path: Path) -> None:
    path = tmp_path / "txt.pt"
    saved(path)
    old = torch.load(path, weights_only=True)
    old["popularity"]["overall"] = np.array([2.0, 1.0])  # as files before issue 15 could hold
    torch.save(old, path)

    with pytest.raises(Exception, match="Retrain the recommender"):
        model_load(path=path)
