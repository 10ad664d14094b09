"""The result cache (gradmath.cache) and its use by the command line.

tests/conftest.py points GRADMATH_CACHE_DIR at a temporary folder and turns the cache off;
the tests here turn it on in a folder of their own.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy

import gradmath.cli
from gradmath.cache import (
    MAX_ARGUMENTS_CHARS,
    ResultCache,
    cache_folder,
    default_cache,
    hash_sources,
    result_key,
    source_hash,
)
from gradmath.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _key(**arguments):
    return result_key("window", {"activation": "sigmoid", "digits": 15, **arguments})


# --- the cache itself -------------------------------------------------------------------------------------------

def test_a_stored_value_comes_back_and_a_missing_one_is_none(tmp_path):
    cache = ResultCache(tmp_path)
    key = _key()
    assert cache.get(key) is None
    assert cache.put(key, {"output": [[1, "σ′ ≤ 1/4\n"]]})
    assert cache.get(key) == {"output": [[1, "σ′ ≤ 1/4\n"]]}
    assert [p.name for p in tmp_path.iterdir()] == [cache.path(key).name]
    assert json.loads(cache.path(key).read_text(encoding="utf-8"))["key"] == key  # plain JSON on disk


def test_the_key_names_the_query_the_versions_and_the_source():
    key = _key()
    assert key["versions"]["sympy"][0] == sympy.__version__
    assert key["versions"]["gradmath"] == gradmath.__version__
    assert key["source"] == source_hash() and len(key["source"]) == 64
    assert _key(digits=16) != key
    assert _key(abs_w=1.0) != _key(abs_w=1)  # a float and an int of equal value are different arguments
    assert _key(abs_w=0.5) == _key(abs_w=float("0.50"))
    assert _key(path=Path("net.npz")) is None  # a file's contents are not in the key: not cacheable
    assert _key(activation="x" * MAX_ARGUMENTS_CHARS) is None


def test_the_source_hash_follows_every_source_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "sub" / "b.py").write_text("B = 2\n")
    before = hash_sources(tmp_path)
    assert hash_sources(tmp_path) == before
    (tmp_path / "sub" / "b.py").write_text("B = 3\n")
    assert hash_sources(tmp_path) != before
    (tmp_path / "sub" / "b.py").write_text("B = 2\n")
    assert hash_sources(tmp_path) == before
    (tmp_path / "sub" / "b.py").rename(tmp_path / "b.py")  # same contents, another module
    assert hash_sources(tmp_path) != before


def test_the_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADMATH_CACHE_DIR", str(tmp_path / "here"))
    assert cache_folder() == tmp_path / "here"
    monkeypatch.delenv("GRADMATH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "gradmath"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "gradmath"
    monkeypatch.delenv("GRADMATH_NO_CACHE", raising=False)
    assert default_cache() is not None
    for off in ("1", "yes"):
        monkeypatch.setenv("GRADMATH_NO_CACHE", off)
        assert default_cache() is None
    monkeypatch.setenv("GRADMATH_NO_CACHE", "0")
    assert default_cache() is not None


@pytest.mark.parametrize(
    "contents",
    [b"", b"{", b"not json", b"\xff\xfe\x00", b"[" * 200_000, b"NaN", b"[]", b'{"key": null, "value": {}}',
     b'{"key": "other", "value": {"output": []}}'],
    ids=["empty", "partial", "text", "not-utf8", "deeply-nested", "nan", "list", "null-key", "other-key"],
)
def test_a_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path, contents):
    cache = ResultCache(tmp_path)
    key = _key()
    cache.path(key).write_bytes(contents)
    assert cache.get(key) is None
    assert cache.put(key, {"output": []})
    assert cache.get(key) == {"output": []}


def test_an_entry_written_for_another_key_is_a_miss(tmp_path):
    cache = ResultCache(tmp_path)
    cache.put(_key(digits=20), {"output": [[1, "twenty digits\n"]]})
    cache.path(_key(digits=20)).rename(cache.path(_key(digits=30)))  # a file under the wrong name
    assert cache.get(_key(digits=30)) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_or_folder_at_an_entry_path_is_a_miss_without_blocking(tmp_path):
    cache = ResultCache(tmp_path)
    os.mkfifo(cache.path(_key(digits=1)))
    cache.path(_key(digits=2)).mkdir()
    assert cache.get(_key(digits=1)) is None
    assert cache.get(_key(digits=2)) is None
    assert not cache.put(_key(digits=2), {"output": []})  # cannot replace a folder: not stored, no error


def test_entries_and_the_folder_are_bounded(tmp_path):
    cache = ResultCache(tmp_path, max_entry_bytes=2_000, max_total_bytes=20_000)
    assert not cache.put(_key(), {"output": [[1, "x" * 3_000]]})
    cache.path(_key()).write_bytes(b'{"key": 1, "value": {}}' + b" " * 3_000)
    assert cache.get(_key()) is None
    cache.path(_key()).unlink()
    for digits in range(1, 60):
        assert cache.put(_key(digits=digits), {"output": [[1, "y" * 1_000]]})
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 20_000
    assert cache.get(_key(digits=59)) is not None  # the newest stays
    stored = len(list(tmp_path.iterdir()))
    assert cache.clear() == stored > 1 and not list(tmp_path.iterdir())


def test_concurrent_writers_leave_a_whole_entry(tmp_path):
    """Four processes write the same key 40 times each while this one reads it: every read is a miss or one
    of the values written, whole; no temporary file is left."""
    writer = textwrap.dedent("""
        import sys
        from gradmath.cache import ResultCache, result_key
        cache, who = ResultCache(sys.argv[1]), int(sys.argv[2])
        key = result_key("window", {"activation": "sigmoid", "digits": 15})
        for i in range(40):
            assert cache.put(key, {"output": [[1, f"{who}:{i}:" + str(who) * 200_000]]})
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), str(who)], env=env) for who in range(4)]
    cache = ResultCache(tmp_path)
    while any(p.poll() is None for p in procs):
        value = cache.get(_key())
        if value is not None:
            (fd, text), = value["output"]
            who, i, body = text.split(":")
            assert fd == 1 and body == who * 200_000 and 0 <= int(i) < 40
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert cache.get(_key()) is not None
    assert [p.name for p in tmp_path.iterdir()] == [cache.path(_key()).name]


# --- the command line ------------------------------------------------------------------------------------------

@pytest.fixture
def cache_on(monkeypatch, tmp_path):
    """The cache on, in a folder of this test's own; returns the folder of entries."""
    monkeypatch.delenv("GRADMATH_NO_CACHE", raising=False)
    monkeypatch.setenv("GRADMATH_CACHE_DIR", str(tmp_path))
    return tmp_path / "results"


@pytest.fixture
def calls(monkeypatch):
    """Count the runs of the gamma and window handlers (a cache hit runs neither)."""
    counted = {"gamma": 0, "window": 0}
    for name in counted:
        module = importlib.import_module(f"gradmath.cli.{name}")
        real = module.run

        def run(args, real=real, name=name):
            counted[name] += 1
            return real(args)

        monkeypatch.setattr(module, "run", run)
    return counted


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.exists() else []


def test_a_hit_prints_exactly_what_the_miss_printed(cache_on, calls, capsys):
    argv = ["gamma", "--activation", "tanh"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert calls["gamma"] == 1 and len(_entries(cache_on)) == 1
    assert main(argv) == 0
    second = capsys.readouterr()
    assert calls["gamma"] == 1  # replayed, not recomputed
    assert (second.out, second.err) == (first.out, first.err) and "| tanh |" in first.out
    assert main([*argv, "--json"]) == 0  # another output format is another entry
    assert json.loads(capsys.readouterr().out)["gamma_exact"] == "1"
    assert calls["gamma"] == 2 and len(_entries(cache_on)) == 2


def test_other_digits_miss_and_the_same_digits_hit(cache_on, calls, capsys):
    printed = {}
    for digits, expected_calls in (("20", 1), ("21", 2), ("20", 2), ("21", 2)):
        assert main(["window", "--digits", digits]) == 0
        assert calls["window"] == expected_calls
        out = capsys.readouterr().out
        assert printed.setdefault(digits, out) == out
    assert printed["20"] != printed["21"]


@pytest.mark.parametrize(
    "argv",
    [["--no-cache", "gamma", "--activation", "tanh"], ["gamma", "--activation", "tanh", "--no-cache"]],
)
def test_no_cache_flag_neither_reads_nor_writes(cache_on, calls, capsys, argv):
    assert main(argv) == 0 and main(argv) == 0
    assert calls["gamma"] == 2 and _entries(cache_on) == []


def test_no_cache_variable_neither_reads_nor_writes(cache_on, calls, capsys, monkeypatch):
    monkeypatch.setenv("GRADMATH_NO_CACHE", "1")
    assert main(["gamma", "--activation", "tanh"]) == 0 and main(["gamma", "--activation", "tanh"]) == 0
    assert calls["gamma"] == 2 and _entries(cache_on) == []


def test_every_cached_command_takes_no_cache():
    parser = build_parser()
    for argv in (["derive", "chain", "--depth", "2"], ["derive", "matrix", "--sizes", "2,2"], ["window"],
                 ["exploding", "--depth", "3"], ["identity", "--w1", "0.1"], ["counterexample"], ["gamma"]):
        assert parser.parse_args([*argv, "--no-cache"]).no_cache is True
        assert not hasattr(parser.parse_args(argv), "no_cache")


def test_a_corrupt_entry_is_recomputed_and_rewritten(cache_on, calls, capsys):
    argv = ["gamma", "--activation", "tanh"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    (entry,) = _entries(cache_on)
    entry.write_bytes(entry.read_bytes()[:40])  # a partial write
    assert main(argv) == 0 and capsys.readouterr().out == first and calls["gamma"] == 2
    assert json.loads(entry.read_text(encoding="utf-8"))["value"]["output"]  # whole again
    assert main(argv) == 0 and capsys.readouterr().out == first and calls["gamma"] == 2


def test_failures_are_not_stored(cache_on, capsys):
    assert main(["window", "--digits", "0"]) == 2
    assert main(["gamma", "--activation", "sigmod"]) == 2
    assert _entries(cache_on) == []


def test_hostile_expressions_are_refused_before_any_lookup(cache_on, capsys, tmp_path):
    payload = f"__import__('os').system('touch {tmp_path / 'ran'}') or x"
    argv = ["gamma", "--activation", payload]
    args = vars(build_parser().parse_args(argv))
    arguments = {k: v for k, v in args.items() if k != "handler"} | {"stdout_isatty": False, "stderr_isatty": False}
    planted = result_key("gamma", arguments)
    ResultCache(cache_on).put(planted, {"output": [[1, "a planted answer\n"]]})
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "planted" not in captured.out and len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "ran").exists()
    assert _entries(cache_on) == [ResultCache(cache_on).path(planted)]  # nothing new stored


def test_custom_activations_registered_in_process_are_not_cached(cache_on, capsys):
    from gradmath.activations import register_activation, unregister_activation

    register_activation("halfsign", "x/(2+abs(x))")
    try:
        assert main(["gamma", "--activation", "halfsign"]) == 0
    finally:
        unregister_activation("halfsign")
    assert "halfsign" in capsys.readouterr().out
    assert _entries(cache_on) == []


def test_a_warm_process_replays_byte_for_byte_without_sympy(tmp_path):
    script = ("import sys; from gradmath.cli import main; code = main(sys.argv[1:]); "
              "sys.stderr.write('sympy loaded: %s' % ('sympy' in sys.modules)); sys.exit(code)")
    env = {k: v for k, v in os.environ.items() if k != "GRADMATH_NO_CACHE"}
    env.update(GRADMATH_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    runs = [subprocess.run([sys.executable, "-c", script, "gamma", "--activation", "tanh"], env=env,
                           capture_output=True, timeout=120) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0]
    assert runs[0].stdout == runs[1].stdout and b"| tanh |" in runs[0].stdout
    assert runs[0].stderr.endswith(b"sympy loaded: True")
    assert runs[1].stderr.endswith(b"sympy loaded: False")
    assert runs[0].stderr.removesuffix(b"sympy loaded: True") == runs[1].stderr.removesuffix(b"sympy loaded: False")


def test_an_unusable_cache_folder_never_fails_the_command(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("GRADMATH_NO_CACHE", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GRADMATH_CACHE_DIR", str(blocker))
    for _ in range(2):
        assert main(["gamma", "--activation", "tanh"]) == 0
        assert "| tanh |" in capsys.readouterr().out
    assert blocker.read_text() == "not a folder"


def _compute(*writes, code=0):
    """A stand-in command: the given (stream, text) writes, then ``code``."""
    def compute():
        for stream, text in writes:
            getattr(sys, stream).write(text)
        return code
    return compute


def test_replay_keeps_the_order_of_stdout_and_stderr(tmp_path, capsys):
    cache, key = ResultCache(tmp_path), _key()
    compute = _compute(("stdout", "a"), ("stderr", "note\n"), ("stdout", "b\n"), ("stdout", "c\n"))
    assert gradmath.cli.run_cached(cache, key, compute) == 0
    first = capsys.readouterr()
    assert cache.get(key) == {"output": [[1, "a"], [2, "note\n"], [1, "b\nc\n"]]}
    assert gradmath.cli.run_cached(cache, key, _compute(("stdout", "not run\n"))) == 0
    assert capsys.readouterr() == first == ("ab\nc\n", "note\n")


def _timed_out():
    from gradmath.cache import uncacheable

    print("gamma ≈ 1.0 (an estimate: the search ran past its 5 s limit)")
    uncacheable("time limit")
    return 0


@pytest.mark.parametrize(
    "compute",
    [_compute(("stdout", "half"), code=1), _timed_out,
     _compute(("stderr", "\r 40% |####      |"), ("stdout", "done\n")),
     lambda: sys.stdout.buffer.write(b"bytes the recorder cannot see\n") and 0],
    ids=["exit-code-1", "time-limit", "progress-bar", "binary-write"],
)
def test_failures_progress_bars_and_unseen_writes_are_not_stored(tmp_path, capsys, compute):
    cache = ResultCache(tmp_path)
    gradmath.cli.run_cached(cache, _key(), compute)
    assert cache.get(_key()) is None and list(tmp_path.iterdir()) == []
    assert gradmath.cli.run_cached(cache, _key(), _compute(("stdout", "whole\n"))) == 0  # the next one is stored
    assert cache.get(_key()) == {"output": [[1, "whole\n"]]}


def test_only_commands_that_read_nothing_but_their_arguments_are_cached():
    assert gradmath.cli.CACHED_COMMANDS <= set(gradmath.cli.COMMANDS)
    assert not gradmath.cli.CACHED_COMMANDS & {"verify", "speeds", "reproduce"}  # files in, files out
