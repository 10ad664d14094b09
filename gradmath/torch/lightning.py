"""A PyTorch Lightning callback that runs a :class:`~gradmath.torch.monitor.GradientMonitor` during ``fit``.

>>> from gradmath.torch.lightning import GradientMonitorCallback
>>> GradientMonitorCallback(module="net", copy_every=10)
GradientMonitorCallback(module='net', copy_every=10)

The monitor attaches at the start of fitting (to ``pl_module`` or its attribute ``module``,
e.g. the ``nn.Sequential`` a LightningModule wraps, which is what the bounds need) and
detaches at the end; its records are ``callback.monitor.records``. With ``log=True`` each
copied value is also sent to the trainer's loggers as ``gradmath/<quantity>/layer <l>``
(a TensorBoardLogger then shows one chart per quantity through ``TensorBoardSink``'s layout).
"""

from __future__ import annotations

from gradmath.errors import MissingDependencyError

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - exercised only without lightning
    try:
        from pytorch_lightning import Callback
    except ImportError:
        Callback = None

__all__ = ["GradientMonitorCallback"]

_Base = Callback if Callback is not None else object


class GradientMonitorCallback(_Base):
    """Attach a :class:`GradientMonitor` for ``trainer.fit``; keyword arguments go to the monitor."""

    def __init__(self, *, module: str | None = None, log: bool = True, **monitor_options):
        if Callback is None:
            raise MissingDependencyError("GradientMonitorCallback needs PyTorch Lightning: pip install lightning")
        super().__init__()
        self.module = module
        self.log = log
        self.options = monitor_options
        self.monitor = None
        self._trainer = None

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"GradientMonitorCallback(module={self.module!r}{options})"

    def on_fit_start(self, trainer, pl_module) -> None:
        from gradmath.torch.monitor import GradientMonitor

        target = pl_module if self.module is None else getattr(pl_module, self.module)
        options = dict(self.options)
        sinks = list(options.pop("sinks", ())) + ([self._log_rows] if self.log else [])
        self._trainer = trainer
        self.monitor = GradientMonitor(target, sinks=sinks, **options).attach()

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.monitor is not None:
            self.monitor.detach()

    def _log_rows(self, rows) -> None:
        trainer = self._trainer
        if trainer is None or not trainer.loggers:
            return
        by_step: dict[int, dict[str, float]] = {}
        for step, layer, quantity, value in rows:
            by_step.setdefault(step, {})[f"gradmath/{quantity}/layer {layer}"] = value
        for step, metrics in by_step.items():
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)
