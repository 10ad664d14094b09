"""Nielsen's experiments on real data, built from the network, backprop and bounds modules.

:mod:`gradmath.experiments.training` trains networks as network2 does (vectorised);
:mod:`gradmath.experiments.speeds` measures each hidden layer's speed of learning
at initialisation (over many seeds) and along training, with the verifier's
bounds checked at every epoch.
"""
