"""Zero-Cost-PT: perturbation-based operation selection on untrained NB201 and DARTS supernets, scored with
NASWOT (docs/zc_pt.md)."""
from nas.zc_pt.search import ZCPTObjective, ZCPTRun, ZCPTSpec, discretise, post_validate, run_zc_pt
from nas.zc_pt.strength import op_scoring_correlation, op_strength

__all__ = ["ZCPTObjective", "ZCPTRun", "ZCPTSpec", "discretise", "post_validate", "run_zc_pt",
           "op_scoring_correlation", "op_strength"]
