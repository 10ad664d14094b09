"""Reading safetensors files without the ``safetensors`` package, every offset checked first.

The format (https://github.com/huggingface/safetensors): 8 bytes, a little-endian
unsigned header length n; n bytes of JSON mapping each tensor name to ``dtype``,
``shape`` and ``data_offsets`` (plus an optional ``__metadata__`` of strings); then the
raw little-endian data. Nothing is allocated before the header has been checked against
the file's size, and only floating-point tensors (F64, F32, F16, BF16) are accepted;
they are returned as float64.

>>> import tempfile, pathlib, numpy as np
>>> from safetensors.numpy import save_file
>>> with tempfile.TemporaryDirectory() as d:
...     path = pathlib.Path(d) / "t.safetensors"
...     save_file({"w": np.eye(2, dtype=np.float32)}, str(path), metadata={"k": "v"})
...     tensors, meta = read_safetensors(path, path.stat().st_size)
>>> tensors["w"].dtype, tensors["w"].tolist(), meta
(dtype('float64'), [[1.0, 0.0], [0.0, 1.0]], {'k': 'v'})
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gradmath.errors import FormatError
from gradmath.formats.reading import parse_json

__all__ = ["read_safetensors", "MAX_HEADER_BYTES"]

#: Largest safetensors JSON header read (8 MiB; a header names each tensor once).
MAX_HEADER_BYTES = 8 * 2**20
_DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2")}
_MAX_NDIM = 8


def read_safetensors(path: Path, size: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors (float64) and the string metadata of the safetensors file at ``path`` of ``size`` bytes.

    Raises
    ------
    FormatError
        A header that is too long, not JSON, or whose shapes, dtypes and offsets do not fit the file.
    """
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if n > MAX_HEADER_BYTES:
            raise FormatError(f"{path}: safetensors header of {n} bytes is over the "
                              f"{MAX_HEADER_BYTES // 2**20} MiB limit")
        if 8 + n > size:
            raise FormatError(f"{path}: truncated or corrupt safetensors file (header of {n} bytes "
                              f"in a file of {size})")
        header = parse_json(fh.read(n), where=f"{path}: safetensors header")
        if not isinstance(header, dict):
            raise FormatError(f"{path}: corrupt safetensors header (not a JSON object)")
        meta = header.pop("__metadata__", None) or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise FormatError(f"{path}: safetensors __metadata__ must map names to strings")
        data_size = size - 8 - n
        specs = {name: _check_spec(path, name, spec, data_size) for name, spec in header.items()}
        _check_disjoint(path, specs)
        tensors = {}
        for name, (dtype_name, shape, begin, end) in specs.items():
            fh.seek(8 + n + begin)
            raw = np.frombuffer(fh.read(end - begin), dtype=_DTYPES[dtype_name])
            if dtype_name == "BF16":  # bfloat16 is the top half of a float32
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            tensors[name] = raw.astype(np.float64).reshape(shape)
    return tensors, meta


def _check_spec(path: Path, name: str, spec, data_size: int) -> tuple[str, tuple[int, ...], int, int]:
    where = f"{path}: tensor {name!r}"
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise FormatError(f"{where}: corrupt safetensors entry (needs dtype, shape, data_offsets)")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if dtype not in _DTYPES:
        raise FormatError(f"{where} has dtype {dtype!r}, expected floating point ({', '.join(_DTYPES)})")
    if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise FormatError(f"{where}: shape {str(shape)[:80]} must be a list of at most {_MAX_NDIM} sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise FormatError(f"{where}: data_offsets must be two integers")
    begin, end = offsets
    nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
    if not 0 <= begin <= end <= data_size or end - begin != nbytes:
        raise FormatError(f"{where}: truncated or corrupt safetensors file (offsets {begin}..{end} for "
                          f"{nbytes} bytes in {data_size} bytes of data)")
    return dtype, tuple(shape), begin, end


def _check_disjoint(path: Path, specs: dict) -> None:
    """Each byte of the data belongs to one tensor at most (as the format requires), so what is read is at most
    the file: tensors sharing one range would each be read and widened to float64, many times the file's size."""
    end_before, name_before = 0, None
    for name, (_, _, begin, end) in sorted(specs.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin < end_before:
            raise FormatError(f"{path}: tensors {name_before!r} and {name!r} share bytes (data_offsets overlap); "
                              "a safetensors file stores each tensor's data once")
        if end > begin:
            end_before, name_before = end, name
