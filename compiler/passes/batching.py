"""`batch-matvec`: batch matrix-vector work into matrix-matrix work so that filters are fetched once.

A planning pass (the graph is unchanged): it sets `plan.batch`, which makes the tiler put several images (rows)
of a FullyConnected or convolution into one bundle with the filters loaded once (output-channel tiles outside,
images inside), and makes `lower-rnn` merge an LSTM/GRU/RNN's gate products into one FullyConnected per step
and hoist the input projection of all time steps out of the time loop. Without it (-O0) every image and every
gate is a separate matrix-vector product that reloads its filters. On a Winograd PE array, `matvec-columns`
then puts the images of a batched matrix-vector product side by side in the multiplier columns, and
`filter-residency` keeps chunks on chip between the bundles that reuse them.
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.ops import RECURRENT
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import with_plan


@register_pass("batch-matvec", "batch matrix-vector work: several images per FC/conv bundle with filters loaded "
               "once, LSTM/GRU gates merged and input projection hoisted", levels=(2,))
def batch_matvec(g: Graph, ctx: PassContext) -> Graph:
    rnn = sum(1 for n in g.nodes if n.op in RECURRENT)
    batch = max((g.tensors[i].shape[0] for i in g.inputs if g.tensors[i].shape), default=1)
    out = with_plan(g, batch=True)
    parts = [f"batching on (input batch {batch})"]
    if rnn:
        parts.append(f"{rnn} recurrent node(s) will be lowered with merged gates and hoisted input projection")
    return note(out, "; ".join(parts))
