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
    # a finite literal that overflows is not the infinity a record writes as inf (CSV) or null (JSON)
    ("r.csv", "step,layer,quantity,value\n0,2,speed,1e999\n", r"value '1e999' is beyond the largest float"),
    ("r.jsonl", '{"step": 0, "layer": 2, "quantity": "speed", "value": 1e999}\n', "beyond the largest float"),
    ("r.csv", "step,layer,quantity,value\n0,2,speed,1_0\n", "value '1_0' is not a number"),
    # a norm below 0, and two values of one (step, layer, quantity), are not a record the monitor writes
    ("r.csv", "step,layer,quantity,value\n0,2,speed,-0.5\n", "line 2: speed -0.5 is negative"),
    ("r.jsonl", '{"step": 0, "layer": 2, "quantity": "delta_norm_max", "value": -1}\n', "is negative"),
    ("r.csv", "step,layer,quantity,value\n0,2,speed,0.5\n0,3,speed,1\n0,2,speed,0.7\n",
     "line 4 repeats step 0, layer 2, quantity 'speed'"),
])
def test_hostile_record_files_get_one_clear_line(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FormatError, match=match):
        read_records(path)


@pytest.mark.parametrize("name, text, match", [
    pytest.param("r.jsonl", '{"step": 0, "layer": 2, "quantity": "speed", "value": 1' + "0" * 400 + '}\n',
                 r"line 1: value \(a JSON number\) is beyond the largest float", id="int-beyond-float"),
    pytest.param("r.jsonl", '{"step": 0, "layer": 2, "quantity": "speed", "value": 1' + "0" * 5000 + '}\n',
                 "line 1 is not a record row", id="int-of-5001-digits"),
    pytest.param("r.jsonl", '{"step": 0, "layer": 2, "quantity": "speed", "value": ' + "[" * 100_000
                 + "]" * 100_000 + "}\n", "line 1 is not a record row", id="nested-100000-deep"),
    pytest.param("r.csv", 'step,layer,quantity,value\n0,2,speed,"' + "1" * 200_000 + '"\n',
                 "line 2 is not a CSV row", id="csv-field-over-limit"),
])
def test_record_files_that_raised_a_traceback_get_one_clear_line(tmp_path, name, text, match):
    # OverflowError, ValueError (int digits limit), RecursionError and _csv.Error escaped read_records before
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FormatError, match=match):
        read_records(path)


def test_record_rows_out_of_step_order_and_a_byte_order_mark(tmp_path, capsys):
    # the first and last speeds are those of the first and last steps, whatever the file's order (the last was
    # the last line's, 0.7 of step 1, before); a BOM before the header (as some editors save CSV) is not line 1
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffstep,layer,quantity,value\r\n5,2,speed,0.5\r\n1,2,speed,0.7\r\n3,2,speed,0.25\r\n"
                     .encode("utf-8"))
    assert read_records(path).series("speed") == {2: ([1, 3, 5], [0.7, 0.25, 0.5])}
    assert main(["speeds", "--record", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["speeds"] == [{"layer": 2, "steps": [1, 3, 5],
                                                               "values": [0.7, 0.25, 0.5]}]
    assert main(["speeds", "--record", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-3:] == ["0.7", "0.25", "0.5"]


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
