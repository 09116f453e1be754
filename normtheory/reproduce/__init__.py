"""Small real-data analogues of the documents' experiments (scikit-learn's handwritten digits).

The blog's CIFAR-100 tables and the paper's ImageNet tables cannot be rerun on this hardware. Each
module here runs a named small analogue on the 1,797 8x8 digit images that scikit-learn ships (no
download), with a protocol fixed in its docstring before it was run, several seeds, and the spread
reported:

* :mod:`.norm_scaling` -- the blog's Norm Scaling table and spectral-norm findings, and the cost of
  spectral scaling (``norm-scaling``, ``scaling-cost``);
* :mod:`.weight_decay` -- the paper's Tables II-IV (lambda sweep, failures, the eps-shifted
  regularizer, eps sensitivity) and the implicit warm-up of Figs. 4-5 (``wd-sweep``,
  ``eps-sensitivity``, ``warmup``).

``normtheory reproduce NAME`` runs one (:mod:`.cli`); full results are committed as JSON in
``reproduce/results/`` at the repository root and drawn by ``normtheory figures``
(:mod:`.figures`). The claims in :mod:`normtheory.claims.blog_analogues` and
:mod:`normtheory.claims.paper_analogues` run the quick forms.

scikit-learn is needed only for the data (the ``data`` extra); everything else imports without it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RESULTS_DIR"]

#: Where the committed full-run JSON results live (repository root / reproduce / results).
RESULTS_DIR = Path(__file__).resolve().parents[2] / "reproduce" / "results"
