r"""The spectral core: one implementation of each algorithm.

* :mod:`.certify` -- the one certified ``sigma_1`` bracket (:class:`SpectralBracket`,
  :func:`certify_brackets`: batched Gram squaring + Cholesky, per-matrix fallback, power-of-two
  scaling first), with :func:`spectral_norm_bracket` and :func:`certify_upper_bound` on top;
* :mod:`.power` -- the one power iteration (matrix, batch, or :class:`LinearOperator`) and the one
  rank-one correction (:func:`rank_one_update_`, :func:`rank_one_correction`);
* :mod:`.reference` -- an accurate uncertified reference and the rank-one correction's bracket;
* :mod:`.conv` -- 2-D front end to the N-d convolution operator norm of
  :mod:`normtheory.audit._operator`;
* :mod:`._input` -- the one input check (complex handled through the exact real embedding).

Round-off constants come from :mod:`normtheory.roundoff`.
"""

from normtheory.spectral._input import as_matrix, check_matrix, real_embedding
from normtheory.spectral.certify import (SpectralBracket, certify_brackets, certify_upper_bound,
                                         spectral_norm_bracket)
from normtheory.spectral.conv import ConvNormResult, conv2d_dense_matrix, conv2d_operator_norm
from normtheory.spectral.power import (LinearOperator, PowerIterationResult, blog_power_iteration,
                                       power_iteration, randn_on, rank_one_correction, rank_one_update_)
from normtheory.spectral.reference import correction_bounds, spectral_norm_reference

__all__ = [
    "PowerIterationResult", "LinearOperator", "power_iteration", "spectral_norm_reference",
    "SpectralBracket", "certify_brackets", "spectral_norm_bracket", "certify_upper_bound",
    "rank_one_correction", "rank_one_update_", "correction_bounds", "as_matrix", "check_matrix",
    "real_embedding", "randn_on", "blog_power_iteration", "ConvNormResult", "conv2d_operator_norm",
    "conv2d_dense_matrix",
]
