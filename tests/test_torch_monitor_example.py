"""The documented example (gradmath.torch.digits) in a tiny configuration: the sigmoid network's first layer
vanishes and is warned about; the ReLU network at the critical initialisation does not."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("pandas")

from gradmath.torch.digits import main, train_both  # noqa: E402


def test_sigmoid_vanishes_and_critical_relu_does_not():
    sigmoid, relu = train_both(epochs=1, limit=300, batch_size=50)
    assert sigmoid.name == "sigmoid-default-init" and relu.name == "relu-critical-init"
    # mean-field theory: √χ₁ ≈ 0.14 per layer for sigmoid at σ_w² = 1/3, so ≈ 4e-4 over 4 layers; 1 for ReLU at σ_w² = 2
    assert max(sigmoid.speed_ratios()) < 0.01
    assert any("vanishing gradient" in m and "mean-field theory" in m for m in sigmoid.monitor.messages)
    assert min(relu.speed_ratios()) > 0.05
    assert not any("vanishing" in m for m in relu.monitor.messages)


def test_main_writes_records_and_figures(tmp_path, capsys):
    assert main([str(tmp_path), "--epochs", "1", "--limit", "64"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["relu-critical-init.csv", "relu-critical-init.png", "sigmoid-default-init.csv",
                     "sigmoid-default-init.png"]
    assert "sigmoid-default-init: accuracy" in capsys.readouterr().out


def _idx(array) -> bytes:
    import struct

    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_fashion_mnist_idx_files_when_given(tmp_path, capsys):
    import numpy as np

    folder = tmp_path / "fashion"
    folder.mkdir()
    rng = np.random.default_rng(0)
    (folder / "train-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx(np.arange(40, dtype=np.uint8) % 10))
    assert main([str(tmp_path / "out"), "--data", str(folder), "--epochs", "1"]) == 0
    assert "relu-critical-init: accuracy" in capsys.readouterr().out
    assert (tmp_path / "out" / "sigmoid-default-init.csv").read_text().startswith("step,layer,quantity,value")
