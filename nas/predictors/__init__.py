"""NB201 performance predictors: the BRP-NAS GCN (latency regressor and binary-relation accuracy predictor), the
MLP and op-count linear baselines, and BRP-NAS search on the runtime (docs/predictors.md).

    from nas.predictors import fit_latency, latency_labels, latency_metrics, split_cells
    labels = latency_labels("latbench")
    split = split_cells(labels, 900, 100, seed=0)
    pred, _ = fit_latency("gcn", split.train, labels[split.train], valid=split.valid, valid_ms=labels[split.valid])
    latency_metrics(pred.predict(split.test), labels[split.test])["within_10"]
"""
from nas.predictors.binary import BinaryConfig, BinaryPredictor, ranking_metrics
from nas.predictors.brp import BRPNAS, BRPSpec, candidate_cells, run_brp_searches
from nas.predictors.latency import (DEFAULT, KINDS, PUBLISHED, LatencyPredictor, PredictorError, Split, TrainConfig,
                                    fit_latency, latency_labels, latency_metrics, split_cells)

__all__ = ["BinaryConfig", "BinaryPredictor", "ranking_metrics", "BRPNAS", "BRPSpec", "candidate_cells",
           "run_brp_searches", "DEFAULT", "KINDS", "PUBLISHED", "LatencyPredictor", "PredictorError", "Split",
           "TrainConfig", "fit_latency", "latency_labels", "latency_metrics", "split_cells"]
