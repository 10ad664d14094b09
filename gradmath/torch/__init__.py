"""Live monitoring of PyTorch training: per-layer speed of learning, per-example ‖δˡ‖, bounds, warnings.

``pip install 'gradmath[torch]'``. The pieces: :mod:`~gradmath.torch.monitor` (the hooks and
the steps), :mod:`~gradmath.torch.layers` (which modules, their numbers, the batch reduction),
:mod:`~gradmath.torch.bounds` (bounds (a) and (b) on the device), :mod:`~gradmath.torch.transfer`
(device to host), :mod:`~gradmath.torch.records`
(tidy rows, pandas, CSV, JSON lines), :mod:`~gradmath.torch.alerts` (the warnings),
:mod:`~gradmath.torch.tensorboard`, :mod:`~gradmath.torch.lightning` and
:mod:`~gradmath.torch.figure`. See ``docs/torch.md``.
"""

from gradmath.torch.alerts import GradientWarning
from gradmath.torch.monitor import GradientMonitor, MonitorWarning
from gradmath.torch.records import Records, read_records

__all__ = ["GradientMonitor", "GradientWarning", "MonitorWarning", "Records", "read_records"]
