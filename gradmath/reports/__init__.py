"""Reports: tables, JSON and figures written from result objects.

Each module here has ``write_artifacts(out, progress=None) -> list[Path]``,
one step of ``gradmath reproduce``. Artifacts hold no timestamps, so a rerun is
byte-identical.
"""

#: The seed every randomised step of ``gradmath reproduce`` starts from.
SEED = 20240531
