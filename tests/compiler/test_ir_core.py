from compiler.builder import GraphBuilder


def test_prune_keeps_unused_outputs_of_kept_nodes():
    b = GraphBuilder("split")
    x = b.input("x", (1, 4, 2, 2))
    a, _unused = b.op("Split", [x], {"axis": 1, "split": [2, 2]}, n_out=2)
    g = b.build([b.relu(a)])
    g.prune()
    g.validate()
    assert _unused in g.tensors and len(g.nodes) == 2


def test_totals_count_shared_weights_once():
    b = GraphBuilder("shared", weights="zeros")
    x = b.input("x", (1, 8))
    y = b.fc(x, 8, bias=False)
    w = b.nodes[-1].inputs[1]
    z = b.op("FullyConnected", [y, w])[0]
    g = b.build([z])
    assert g.totals().params == 64 and sum(g.cost(n).params for n in g.nodes) == 128
