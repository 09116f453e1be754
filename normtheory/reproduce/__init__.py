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

``normtheory reproduce NAME`` runs one (:mod:`.cli`); :mod:`.experiments` holds each analogue's
in-run and full protocol. Full results are recorded with provenance in ``results/NAME.json``
inside this package (:mod:`normtheory.provenance`) and drawn by ``normtheory figures``
(:mod:`.figures`); ``normtheory reproduce --check`` reruns them. The claims in
:mod:`normtheory.claims.blog_analogues` and :mod:`normtheory.claims.paper_analogues` compute the
in-run forms and decide from them (:mod:`.stats` supplies the bootstrap over seeds).

scikit-learn is needed only for the data (the ``data`` extra); everything else imports without it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RESULTS_DIR"]

#: Where the recorded full-run results live (package data: present in every installation).
RESULTS_DIR = Path(__file__).resolve().parent / "results"
