"""Tidy records of a monitored training run: one row per (step, layer, quantity), as pandas, CSV or JSON lines.

Quantities (per weighted layer l, numbered as the verifier numbers them, the input being l = 1):

``speed``                ‖∂C/∂bˡ‖₂ of the batch loss C (Nielsen's speed of learning), from the bias gradient
``weight_grad_norm``     ‖∂C/∂wˡ‖ (Frobenius) of the batch loss
``delta_norm_q1``, ``delta_norm_median``, ``delta_norm_q3``, ``delta_norm_max``
                         quartiles and largest of ‖δˡ‖ over the batch's examples, δˡ = ∂Cₙ/∂zˡ of each
                         example's own loss (the batch reduction undone), in the monitor's norm
``dead_units``           units with σ′ = 0 for every example of the batch (ReLU layers)
``weight_norm_estimate``, ``bound_a_estimate``, ``bound_b_estimate``
                         ‖(wˡ)ᵀ‖ and the largest bounds (a), (b) on ‖δˡ‖ over the batch
                         (:mod:`gradmath.torch.bounds`; estimates, not certified)
``nonfinite``            1 where a quantity of that layer and step was NaN or infinite (its value is kept as
                         NaN/inf in the frame, ``null`` in JSON lines)

>>> r = Records()
>>> r.extend([(0, 2, "speed", 0.5), (0, 3, "speed", 2.0), (1, 2, "speed", float("nan"))])
>>> r.to_frame()
   step  layer quantity  value
0     0      2    speed    0.5
1     0      3    speed    2.0
2     1      2    speed    NaN
>>> r.to_jsonl().splitlines()[-1]
'{"step": 1, "layer": 2, "quantity": "speed", "value": null}'
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

from gradmath.errors import FormatError

__all__ = ["Records", "read_records", "COLUMNS", "MAX_RECORD_BYTES", "MAX_RECORD_ROWS"]

COLUMNS = ("step", "layer", "quantity", "value")

#: Limits on a record file read back (checked before parsing): 256 MiB and 5,000,000 rows.
MAX_RECORD_BYTES = 256 * 2**20
MAX_RECORD_ROWS = 5_000_000

_QUANTITY = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: The monitor's quantities: norms, bounds, counts and flags, none of them below 0.
_NONNEGATIVE = frozenset({"speed", "weight_grad_norm", "delta_norm_q1", "delta_norm_median", "delta_norm_q3",
                          "delta_norm_max", "dead_units", "weight_norm_estimate", "bound_a_estimate",
                          "bound_b_estimate", "nonfinite"})
_INFINITY = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_MAX_INDEX = 10**12


class Records:
    """Rows (step, layer, quantity, value) in the order they were measured.

    The monitor adds its values a block of steps at a time (:meth:`add_block`: the steps, the
    (layer, quantity) keys and a 2-D array of values), kept as arrays; :attr:`rows` turns them into
    tuples only when asked, and :meth:`to_frame` builds its columns from the arrays.
    """

    def __init__(self, rows=()):
        self._rows: list[tuple[int, int, str, float]] = list(rows)
        self._blocks: list[_Block] = []

    @property
    def rows(self) -> list[tuple[int, int, str, float]]:
        """All rows as (step, layer, quantity, value) tuples, a list that may be appended to."""
        if self._blocks:
            blocks, self._blocks = self._blocks, []
            for block in blocks:
                self._rows += block.rows()
        return self._rows

    def __len__(self) -> int:
        return len(self._rows) + sum(block.size for block in self._blocks)

    def __repr__(self) -> str:
        steps = len({row[0] for row in self.rows})
        return f"Records({len(self)} rows, {steps} steps)"

    def extend(self, rows) -> None:
        self.rows.extend(rows)

    def add_block(self, steps, keys, values, nonfinite=None) -> list:
        """Add the values of ``steps`` (one row of ``values`` per step, one column per (layer, quantity) of
        ``keys``); ``nonfinite`` maps a row's index to the layers with a value that is not finite, each
        recorded as a ``nonfinite`` row of 1.0 after the step's values. Returns the block."""
        block = _Block(list(steps), list(keys), values, dict(nonfinite or {}))
        self._blocks.append(block)
        return block

    def to_frame(self):
        """A pandas DataFrame with columns ``step``, ``layer``, ``quantity``, ``value``."""
        import numpy as np
        import pandas as pd

        parts = [pd.DataFrame(self._rows, columns=list(COLUMNS))] if self._rows or not self._blocks else []
        for block in self._blocks:
            if block.nonfinite:
                parts.append(pd.DataFrame(block.rows(), columns=list(COLUMNS)))
                continue
            k, n = len(block.steps), len(block.keys)
            parts.append(pd.DataFrame({
                "step": np.repeat(np.asarray(block.steps, dtype=np.int64), n),
                "layer": np.tile(np.asarray([l for l, _ in block.keys], dtype=np.int64), k),
                "quantity": np.tile(np.asarray([q for _, q in block.keys], dtype=object), k),
                "value": np.asarray(block.values, dtype=np.float64).reshape(-1)}))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return frame.astype({"step": "int64", "layer": "int64", "quantity": "object", "value": "float64"})

    def series(self, quantity: str) -> dict[int, tuple[list[int], list[float]]]:
        """For each layer, the steps (in increasing order) and values of ``quantity``."""
        out: dict[int, tuple[list[int], list[float]]] = {}
        for step, layer, q, value in sorted((row for row in self.rows if row[2] == quantity), key=lambda r: r[0]):
            steps, values = out.setdefault(layer, ([], []))
            steps.append(step)
            values.append(value)
        return dict(sorted(out.items()))

    def to_csv(self, path=None) -> str:
        """CSV with a header line (NaN and infinities as ``nan``, ``inf``, ``-inf``); written to ``path`` if given."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for step, layer, quantity, value in self.rows:
            writer.writerow((step, layer, quantity, repr(float(value))))
        return _write(path, buffer.getvalue())

    def to_jsonl(self, path=None) -> str:
        """One JSON object per line; a value that is not finite is ``null`` (valid JSON, never NaN)."""
        lines = [json.dumps({"step": s, "layer": l, "quantity": q, "value": v if math.isfinite(v) else None},
                            allow_nan=False) for s, l, q, v in self.rows]
        return _write(path, "".join(line + "\n" for line in lines))


class _Block:
    """Steps recorded together: ``values[i, j]`` is the value of ``keys[j]`` at ``steps[i]``."""

    __slots__ = ("steps", "keys", "values", "nonfinite", "size")

    def __init__(self, steps, keys, values, nonfinite):
        self.steps, self.keys, self.values, self.nonfinite = steps, keys, values, nonfinite
        self.size = len(steps) * len(keys) + sum(len(layers) for layers in nonfinite.values())

    def rows(self) -> list[tuple[int, int, str, float]]:
        keys, flags, rows = self.keys, self.nonfinite, []
        for i, (step, listed) in enumerate(zip(self.steps, self.values.tolist())):
            rows += [(step, l, q, v) for (l, q), v in zip(keys, listed)]
            if i in flags:
                rows += [(step, l, "nonfinite", 1.0) for l in flags[i]]
        return rows


def _write(path, text: str) -> str:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def read_records(path, *, max_bytes: int = MAX_RECORD_BYTES) -> Records:
    """Records from a CSV (``.csv``) or JSON lines (``.jsonl``, ``.json``) file written by :class:`Records`.

    Raises
    ------
    DataError
        A missing, special or too large file (:mod:`gradmath.userfiles`).
    FormatError
        A row that is not (step, layer, quantity, value); the message names the line.
    """
    from gradmath.userfiles import read_user_file

    name = str(path)
    data = read_user_file(path, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8-sig")   # a byte order mark, as some editors save CSV, is not part of line 1
    except UnicodeDecodeError as err:
        raise FormatError(f"{name}: not UTF-8 text (byte {err.start}); a record file is CSV or JSON lines") from None
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(name, text)
    elif suffix in (".jsonl", ".json"):
        rows = _json_rows(name, text)
    else:
        raise FormatError(f"{name}: a record file ends in .csv or .jsonl (as Records.to_csv/to_jsonl write them)")
    return Records(_once_each(name, rows))


def _once_each(name: str, rows):
    """The rows, refused where a (step, layer, quantity) comes twice: which value holds would be a guess."""
    seen: set = set()
    for number, row in rows:
        key = row[:3]
        if key in seen:
            raise FormatError(f"{name}: line {number} repeats step {key[0]}, layer {key[1]}, quantity {key[2]!r} "
                              "of an earlier line; a record holds one value of each (write one run per file)")
        seen.add(key)
        yield row


def _csv_rows(name: str, text: str):
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise FormatError(f"{name}: line 1 must be the header step,layer,quantity,value")
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 4:
                raise FormatError(f"{name}: line {number} has {len(row)} fields, expected 4 "
                                  "(step,layer,quantity,value)")
            yield number, _checked(name, number, *row)
            if number > MAX_RECORD_ROWS + 1:
                raise FormatError(f"{name}: more than {MAX_RECORD_ROWS:,} rows")
    except csv.Error as err:   # e.g. a field over csv's limit of 131,072 characters
        raise FormatError(f"{name}: line {reader.line_num} is not a CSV row of step,layer,quantity,value "
                          f"({err})") from None


def _json_rows(name: str, text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if number > MAX_RECORD_ROWS:
            raise FormatError(f"{name}: more than {MAX_RECORD_ROWS:,} rows")
        try:
            obj = json.loads(line, parse_constant=lambda c: _refuse_constant(name, number, c))
        except json.JSONDecodeError as err:
            raise FormatError(f"{name}: line {number} is not JSON ({err.msg})") from None
        except FormatError:   # NaN or Infinity, refused by _refuse_constant
            raise
        except (ValueError, RecursionError):   # an integer of over 4300 digits, arrays nested too deep
            raise FormatError(f"{name}: line {number} is not a record row (a number too long or nesting too "
                              "deep); a row is {\"step\": ..., \"layer\": ..., \"quantity\": ..., "
                              "\"value\": ...}") from None
        if not isinstance(obj, dict) or set(obj) != set(COLUMNS):
            raise FormatError(f"{name}: line {number} must be an object with keys step, layer, quantity, value")
        value = obj["value"]
        yield number, _checked(name, number, obj["step"], obj["layer"], obj["quantity"],
                               "nan" if value is None else value)


def _refuse_constant(name, number, constant):
    raise FormatError(f"{name}: line {number} holds {constant}, which is not JSON (a missing value is null)")


def _checked(name: str, number: int, step, layer, quantity, value):
    where = f"{name}: line {number}"
    step_i, layer_i = _index(where, "step", step, 0), _index(where, "layer", layer, 1)
    if not isinstance(quantity, str) or not _QUANTITY.fullmatch(quantity.strip()):
        raise FormatError(f"{where}: quantity {str(quantity)[:40]!r} is not a name such as speed or "
                          "delta_norm_median")
    if isinstance(value, bool):
        raise FormatError(f"{where}: value {value!r} is not a number")
    text = str(value).strip() if isinstance(value, str) else None
    try:
        if text is not None and "_" in text:   # float() takes 1_0 for 10; no record is written so
            raise ValueError
        value_f = float(text) if text is not None else float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: value {str(value)[:40]!r} is not a number") from None
    except OverflowError:   # a JSON integer beyond the floats
        value_f = math.inf
    if math.isinf(value_f) and (text is None or text.lower() not in _INFINITY):
        # JSON has no infinity (a record writes null) and a CSV record writes inf: this is a finite number too large
        shown = repr(text[:40]) if text is not None else "(a JSON number)"
        raise FormatError(f"{where}: value {shown} is beyond the largest float (about 1.8e308)")
    quantity = quantity.strip()
    if value_f < 0 and quantity in _NONNEGATIVE:
        raise FormatError(f"{where}: {quantity} {value_f!r} is negative; it is a norm, bound or count (at least 0)")
    return step_i, layer_i, quantity, value_f


def _index(where: str, what: str, value, low: int) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise FormatError(f"{where}: {what} {text[:40]!r} is not a whole number of at most 12 digits")
    number = int(text)
    if number < low:
        raise FormatError(f"{where}: {what} {number} is below {low}")
    return number
