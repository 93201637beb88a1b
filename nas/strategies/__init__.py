"""Search strategies over cell spaces (random search, regularised evolution, REINFORCE) with zero-cost warm-up
and move proposal, as ask/tell components of `nas.runtime`; `ovl search nas` is `nas.strategies.cli`."""
from nas.strategies.run import SearchSpec, curve_rows, format_curve_table, make_strategy, run_searches
from nas.strategies.space import NB201, CellSpace, NB201Objective
from nas.strategies.strategies import STRATEGIES, Guidance, RandomSearch, RegularizedEvolution, Reinforce

__all__ = ["SearchSpec", "curve_rows", "format_curve_table", "make_strategy", "run_searches", "NB201", "CellSpace",
           "NB201Objective", "STRATEGIES", "Guidance", "RandomSearch", "RegularizedEvolution", "Reinforce"]
