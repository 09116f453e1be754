"""Sec. 6.1 (normtheory.claims.paper_other_weights): the fc layer's L2 objective has a minimum, an inner BN's
affine pair is scale-invariant (no minimum); a BN without a BN after it is not invariant (the broken
variant of the symmetry); the corrected claim replays from JSON. Test names carry the claim id."""

from __future__ import annotations

import copy
import json

from normtheory.claims import paper_other_weights as po


def test_PAPER_other_weights_inner_bn_is_invariant_and_one_without_a_bn_after_is_not():
    data = po.block_data()
    inner = po.bn_affine_scan(data)
    assert all(abs(v) <= 1 for v in inner["loss_change_over_tol"].values())
    assert inner["radial_slope"] > 0
    last = po.bn_affine_scan(data, next_bn=False)
    assert max(abs(v) for v in last["loss_change_over_tol"].values()) > 1


def test_PAPER_other_weights_fc_has_an_interior_minimum_and_no_decay_moves_it():
    data = po.block_data()
    fc = po.fc_minimum(data, lam=0.1)
    assert fc["grad_norm"] < 1e-8 and all(v > 0 for v in fc["ray_minus_min"].values())
    weaker = po.fc_minimum(data, lam=0.01)
    assert weaker["norm"] > fc["norm"]  # the minimum exists and moves with lambda, it is not pushed to 0


def test_PAPER_other_weights_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(po.check_other_weights().to_json()))
    assert po.replay_other_weights(ev) == ev["counterexample"]["reproduces"]
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lam"] = 0.2
    assert po.replay_other_weights(bad) != ev["counterexample"]["reproduces"]
