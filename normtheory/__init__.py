"""normtheory: the theory of weight normalization, weight decay and spectral control, verified.

The library pieces are importable on their own (no matplotlib, no GPU needed):
:mod:`normtheory.reparam` (weight normalization, weight standardization, batch norm),
:mod:`normtheory.dynamics` (effective learning rate, norm growth, schedules); the claim registry is
in :mod:`normtheory.claims`, and ``normtheory verify`` runs it.
"""

__version__ = "0.1.0"
