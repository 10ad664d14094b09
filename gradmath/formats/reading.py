"""Opening a network file safely: what it is, how large it may be, and strict JSON.

Every network file passes through here before anything is parsed:

* it must be a regular file (a FIFO or device would block or never end) and readable;
* its size is checked against a stated limit before it is read: :data:`MAX_JSON_BYTES`
  for network2 JSON, :data:`MAX_BINARY_BYTES` for ``.npz``, safetensors and skops files;
* its kind is read from its first bytes (:func:`sniff`), not trusted from its name;
* JSON is parsed strictly (:func:`parse_json`): no ``NaN``/``Infinity`` tokens, integers of
  at most :data:`MAX_INT_DIGITS` digits, numbers that fit a float64, nesting that Python's
  parser can follow.

>>> parse_json('{"a": [1, 2.5]}', where="x.json")
{'a': [1, 2.5]}
>>> parse_json('{"a": NaN}', where="x.json")
Traceback (most recent call last):
...
gradmath.errors.FormatError: x.json: NaN is not a JSON number (gradmath reads strict JSON)
>>> parse_json("[" * 100_000, where="x.json")
Traceback (most recent call last):
...
gradmath.errors.FormatError: x.json: JSON nested too deeply to parse (...)
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from gradmath.errors import FormatError
from gradmath.userfiles import check_user_path

__all__ = ["MAX_JSON_BYTES", "MAX_BINARY_BYTES", "MAX_INT_DIGITS", "check_file", "sniff", "parse_json"]

#: Largest network2 JSON file read (128 MiB, about 6 million parameters as network2 writes them).
MAX_JSON_BYTES = 128 * 2**20
#: Largest binary network file read (1 GiB), and the cap on a skops archive's unpacked size.
MAX_BINARY_BYTES = 2**30
#: Longest integer literal accepted in JSON (float64 needs at most 309 digits).
MAX_INT_DIGITS = 400

_PICKLE_HINT = ("gradmath never loads pickle files, which can run code; save a PyTorch model's "
                "state_dict with safetensors.torch.save_file, a scikit-learn model with skops.io.dump")


def check_file(path: Path, limit: int) -> int:
    """The size of ``path`` after checking it is a readable regular file of at most ``limit`` bytes.

    The checks are :func:`gradmath.userfiles.check_user_path`'s (one place for every file a user names),
    with :class:`FormatError`; an empty file is refused here.
    """
    info = check_user_path(path, error=FormatError, max_bytes=None)
    if not os.access(path, os.R_OK):
        raise FormatError(f"{path}: cannot be read (permission denied)")
    if info.st_size > limit:
        raise FormatError(f"{path}: {info.st_size} bytes is over the {limit // 2**20} MiB limit for this kind "
                          "of network file")
    if info.st_size == 0:
        raise FormatError(f"{path}: empty file")
    return info.st_size


def sniff(path: Path, size: int) -> str:
    """The kind of file from its first bytes: ``"zip"``, ``"safetensors"``, ``"json"``, or a refusal.

    A zip archive is an ``.npz``, a skops file, or a ``torch.save`` file (refused: pickle);
    :func:`zip_kind` tells them apart.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
    except OSError as err:
        raise FormatError(f"{path}: cannot be read ({err.strerror or err})") from err
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 2**32:  # JSON text gives a far larger number
        return "safetensors"
    if head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] == b"{":
        return "json"
    if head[:1] == b"\x80" or head[:2] == b"\x1f\x8b":
        raise FormatError(f"{path}: a pickle or gzip file, not a network file ({_PICKLE_HINT})")
    if head[:6] == b"\x93NUMPY":
        raise FormatError(f"{path}: a single .npy array, not a network; save networks with "
                          "gradmath.formats.save_network")
    raise FormatError(f"{path}: not a network file (expected .npz, network2 .json, .safetensors or .skops)")


def zip_kind(path: Path, names: list[str]) -> str:
    """``"skops"``, ``"npz"`` or a refusal, from the member names of a zip archive."""
    if "schema.json" in names:
        return "skops"
    if any(n.endswith("data.pkl") for n in names):
        raise FormatError(f"{path}: a torch.save file ({_PICKLE_HINT})")
    return "npz"


def parse_json(text: str | bytes, *, where) -> object:
    """``json.loads`` that refuses NaN/Infinity, huge integers, non-float64 numbers and deep nesting."""
    try:
        return json.loads(text, parse_constant=lambda token: _refuse_constant(where, token),
                          parse_int=lambda s: _int(where, s), parse_float=lambda s: _float(where, s))
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(f"{where}: JSON nested too deeply to parse (network files are at most 3 levels deep)") \
            from None
    except UnicodeDecodeError as err:
        raise FormatError(f"{where}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise FormatError(f"{where}: not valid JSON, truncated or corrupt ({err.msg} at character {err.pos})") \
            from None
    except ValueError as err:  # e.g. Python's own limit on integer digits
        raise FormatError(f"{where}: not valid JSON ({err})") from None


def _refuse_constant(where, token: str):
    raise FormatError(f"{where}: {token} is not a JSON number (gradmath reads strict JSON)")


def _int(where, text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise FormatError(f"{where}: an integer of {len(text.lstrip('-'))} digits; at most {MAX_INT_DIGITS} "
                          "are accepted")
    return int(text)


def _float(where, text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FormatError(f"{where}: the number {text[:40]} overflows float64")
    return value
