"""GPU harness: spectral-norm estimation on full-size ResNet-34/50 layers (issue 7).

Modules: :mod:`resnet` (the networks and their weight shapes), :mod:`weights` (the three weight
states), :mod:`timing` (honest GPU/CPU timing), :mod:`experiments` (the six experiments),
:mod:`report` (the headline table), :mod:`cli` (``normtheory bench``), :mod:`figures`.
"""
