"""Records as CSV and JSON lines (and back), TensorBoard scalars read back with EventAccumulator, the Lightning
callback, the figure and ``gradmath speeds --record``."""

from __future__ import annotations

import json
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pandas")
from torch import nn  # noqa: E402

from gradmath.cli import main  # noqa: E402
from gradmath.errors import DataError, FormatError  # noqa: E402
from gradmath.torch import GradientMonitor, Records, read_records  # noqa: E402
from gradmath.torch.figure import speeds_figure  # noqa: E402


def _trained_records(steps=4, **options):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x, y = torch.randn(20, 6, dtype=torch.float64), torch.randint(0, 3, (20,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with GradientMonitor(model, loss=nn.CrossEntropyLoss(), **options) as monitor:
        for _ in range(steps):
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(x), y).backward()
            opt.step()
    return monitor


def test_csv_and_json_lines_round_trip(tmp_path):
    records = _trained_records(bounds=True).records
    records.rows.append((4, 2, "speed", float("nan")))
    csv_path, jsonl_path = tmp_path / "r.csv", tmp_path / "r.jsonl"
    records.to_csv(csv_path)
    records.to_jsonl(jsonl_path)
    assert json.loads(jsonl_path.read_text().splitlines()[-1])["value"] is None
    for path in (csv_path, jsonl_path):
        back = read_records(path)
        assert len(back) == len(records)
        for a, b in zip(back.rows, records.rows):
            assert a[:3] == b[:3] and (a[3] == b[3] or (a[3] != a[3] and b[3] != b[3]))


@pytest.mark.parametrize("name, text, match", [
    ("r.csv", "step,layer,quantity\n", "header"),
    ("r.csv", "step,layer,quantity,value\n0,2,speed\n", "line 2 has 3 fields"),
    ("r.csv", "step,layer,quantity,value\n-1,2,speed,1\n", "line 2: step '-1'"),
    ("r.csv", "step,layer,quantity,value\n0,2,__import__('os'),1\n", "quantity"),
    ("r.csv", "step,layer,quantity,value\n0,2,speed,abc\n", "value 'abc'"),
    ("r.jsonl", '{"step": 0, "layer": 2, "quantity": "speed", "value": NaN}\n', "NaN, which is not JSON"),
    ("r.jsonl", '[1, 2]\n', "line 1 must be an object"),
    ("r.jsonl", '{"step": 0\n', "line 1 is not JSON"),
    ("r.txt", "", "ends in .csv or .jsonl"),
])
def test_hostile_record_files_get_one_clear_line(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FormatError, match=match):
        read_records(path)


def test_tensorboard_one_chart_per_quantity_with_every_layer(tmp_path):
    pytest.importorskip("tensorboard")
    from gradmath.torch.tensorboard import TensorBoardSink, read_scalars

    sink = TensorBoardSink(tmp_path)
    monitor = _trained_records(sinks=[sink], copy_every=2)
    sink.close()
    scalars = read_scalars(tmp_path)
    frame = monitor.to_frame()
    assert set(scalars) == {f"{q}/layer {l}" for q, l in zip(frame.quantity, frame.layer)}
    for q, l, s, v in zip(frame.quantity, frame.layer, frame.step, frame.value):
        assert (s, pytest.approx(v, rel=1e-6)) in scalars[f"{q}/layer {l}"]   # event files hold float32
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.custom_scalar import layout_pb2

    acc = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    layout = layout_pb2.Layout()
    layout.ParseFromString(acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    charts = {chart.title: list(chart.multiline.tag) for chart in layout.category[0].chart}
    assert charts["speed"] == ["^speed/layer "] and charts["delta_norm_median"] == ["^delta_norm_median/layer "]


def test_lightning_callback_records_every_training_step(tmp_path):
    lightning = pytest.importorskip("lightning.pytorch")
    from gradmath.torch.lightning import GradientMonitorCallback

    class Module(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 3))

        def training_step(self, batch, _):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.TensorDataset(torch.randn(40, 6), torch.randint(0, 3, (40,)))
    loader = torch.utils.data.DataLoader(data, batch_size=10)
    callback = GradientMonitorCallback(module="net", bounds=True, copy_every=3)
    logger = lightning.loggers.TensorBoardLogger(str(tmp_path), name="run", version=0)
    trainer = lightning.Trainer(max_epochs=2, callbacks=[callback], logger=logger, enable_progress_bar=False,
                                enable_model_summary=False, enable_checkpointing=False, accelerator="cpu",
                                log_every_n_steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Lightning's notes on workers and small data sets
        trainer.fit(Module(), loader)
    frame = callback.monitor.to_frame()
    assert sorted(set(frame.step)) == list(range(8)) and set(frame.layer) == {2, 3}
    assert {"speed", "delta_norm_median", "bound_a_estimate"} <= set(frame.quantity)
    from gradmath.torch.tensorboard import read_scalars

    scalars = read_scalars(tmp_path / "run" / "version_0")
    row = frame[(frame.step == 7) & (frame.layer == 2) & (frame.quantity == "speed")].value.iloc[0]
    assert (7, pytest.approx(row, rel=1e-6)) in scalars["gradmath/speed/layer 2"]


def test_figure_and_cli_draw_speeds_from_a_record(tmp_path, capsys):
    monitor = _trained_records(steps=5)
    fig = speeds_figure(monitor.records)
    assert len(fig.axes[0].get_lines()) == 3
    path = tmp_path / "run.csv"
    monitor.records.to_csv(path)
    out = tmp_path / "speeds.png"
    assert main(["speeds", "--record", str(path), "--figure", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "layer 2" in text and "5 steps" in text
    assert main(["speeds", "--record", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["layer"] for row in payload["speeds"]] == [2, 3, 4] and len(payload["speeds"][0]["values"]) == 5
    empty = tmp_path / "empty.csv"
    Records().to_csv(empty)
    assert main(["speeds", "--record", str(empty)]) == 2
    assert "no 'speed' rows" in capsys.readouterr().err
    assert main(["speeds", "--figure", str(out)]) == 2
    assert "give --record" in capsys.readouterr().err
    with pytest.raises(DataError):
        speeds_figure(Records())
