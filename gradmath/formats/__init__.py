"""Networks in and out: native ``.npz``, Nielsen's network2 JSON, safetensors, skops; scikit-learn, PyTorch.

Never a pickle: ``.npz`` files are read with ``allow_pickle=False``, safetensors files by
gradmath's own checked reader, skops files with only the types an MLP needs trusted, and
``torch.save`` or pickle files are refused. Every file's kind is read from its first bytes,
its size checked against a stated limit before it is read (:mod:`gradmath.formats.reading`).

* **native .npz**: arrays ``W2 … WL`` and ``b2 … bL`` in the proofs' notation (layer 1 is
  the input layer, so the first weight matrix is w²), plus ``metadata``, a JSON string
  ``{"format": "gradmath-network", "version": 1, "hidden_activation", "output_activation", "cost"}``;
* **network2 JSON** (``.json``): ``{"sizes", "weights", "biases", "cost"}`` as Nielsen's
  ``network2.save`` writes it (biases as column vectors, cost ``"CrossEntropyCost"`` or
  ``"QuadraticCost"``); it states no activation, so it is read as sigmoid (network2.py's
  units) unless ``activation=``/``output=`` say otherwise, and :func:`read_network` notes which;
* **safetensors** (``.safetensors``): the same tensors as the ``.npz`` with the metadata fields
  as the file's string metadata; or a PyTorch ``state_dict`` of Linear layers saved with
  ``safetensors.torch.save_file``, with the activations and cost given by the caller
  (:func:`~gradmath.formats.pytorch.from_state_dict`);
* **skops** (``.skops``, needs ``pip install skops``): a fitted ``MLPClassifier`` or
  ``MLPRegressor`` saved with ``skops.io.dump`` (:func:`~gradmath.formats.sklearn.read_skops`).

Examples
--------
>>> import tempfile, pathlib
>>> from gradmath.network import Network
>>> net = Network.random((4, 3, 2), seed=0, cost="log-loss", output_activation="softmax")
>>> with tempfile.TemporaryDirectory() as d:
...     path = save_network(net, pathlib.Path(d) / "net.npz")
...     back = load_network(path)
...     broken = pathlib.Path(d) / "broken.npz"
...     _ = broken.write_bytes(path.read_bytes()[:100])
...     load_network(broken)
Traceback (most recent call last):
...
gradmath.errors.FormatError: .../broken.npz: truncated or corrupt ...
>>> back.output_activation, all((a == b).all() for a, b in zip(back.weights, net.weights))
('softmax', True)

A network2 file says which activation it was read with:

>>> net2 = Network.random((3, 2), seed=0, cost="quadratic")
>>> with tempfile.TemporaryDirectory() as d:
...     loaded = read_network(save_network(net2, pathlib.Path(d) / "net.json"), activation="tanh")
>>> loaded.network.hidden_activation, loaded.format, loaded.notes
('tanh', 'network2', ('network2 JSON states no activation: hidden layers read as tanh (as given), output layer as sigmoid (network2.py)',))
"""

from gradmath.formats.files import FORMATS, LoadedNetwork, load_network, read_network, save_network
from gradmath.formats.pytorch import ConversionNote, from_state_dict, from_torch
from gradmath.formats.sklearn import from_sklearn, read_skops

__all__ = ["load_network", "read_network", "save_network", "LoadedNetwork", "from_sklearn", "from_torch",
           "from_state_dict", "read_skops", "ConversionNote", "FORMATS"]
