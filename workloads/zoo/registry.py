"""The zoo registry: network name -> torch module, direct IR builder, input shape(s), options, description.

Torch-free: listing the zoo and building IR graphs never imports torch (the torch modules are named by
"module:Class" and imported on use by `workloads.zoo.export`).

    from workloads.zoo import build_ir, count_params
    g = build_ir("resnet50")                      # shapes only (weights="none"): fast, for cost models
    g = build_ir("resnet50", [(1, 3, 64, 64)])    # another input size
    g = build_ir("asr_attention", steps=4)        # an option changed
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from compiler.builder import GraphBuilder, WeightMode
from compiler.errors import ModelError, UserError
from compiler.ir import Graph
from workloads.zoo import cnn_ir, rnn_ir, sr_ir

Shape = tuple[int, ...]


class ZooError(UserError):
    """A zoo request a user can fix: unknown network, option or family, or an input shape it cannot take."""


@dataclass(frozen=True)
class Option:
    """One architecture option of a network (all are integers)."""

    default: int
    help: str
    minimum: int = 1
    choices: tuple[int, ...] | None = None

    def check(self, net: str, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ZooError(f"zoo network '{net}': option {key}={value!r} must be an integer")
        if self.choices is not None and value not in self.choices:
            raise ZooError(f"zoo network '{net}': option {key}={value} is not one of {list(self.choices)}")
        if value < self.minimum:
            raise ZooError(f"zoo network '{net}': option {key}={value} must be >= {self.minimum}")
        return value


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: Shape
    layout: str  # one letter per dimension: N batch, C channels, H/W image, T time, B batch (seq-major), F features


@dataclass(frozen=True)
class ZooEntry:
    name: str
    family: str
    description: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    torch_class: str                      # "module:Class"; constructed as Class(shape=..., **fixed, **options)
    ir_builder: Callable[..., str]        # fn(builder, *input_names, **fixed, **options) -> output tensor name
    options: Mapping[str, Option] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def default_shapes(self) -> tuple[Shape, ...]:
        return tuple(i.shape for i in self.inputs)

    def resolve_options(self, overrides: Mapping[str, Any] | None = None) -> dict[str, int]:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self.options))
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ZooError(f"zoo network '{self.name}' has no option {', '.join(unknown)}; options: {known}")
        return {k: o.check(self.name, k, overrides.get(k, o.default)) for k, o in self.options.items()}

    def resolve_shapes(self, shapes: Sequence[Sequence[int]] | None = None) -> tuple[Shape, ...]:
        if shapes is None:
            return self.default_shapes
        shapes = [tuple(s) for s in shapes]
        if len(shapes) != len(self.inputs):
            raise ZooError(f"zoo network '{self.name}' takes {len(self.inputs)} input shape(s) "
                           f"({', '.join(i.name for i in self.inputs)}), got {len(shapes)}")
        for spec, s in zip(self.inputs, shapes):
            if len(s) != len(spec.shape) or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in s):
                raise ZooError(f"zoo network '{self.name}': input '{spec.name}' shape {format_shape(s)} must be "
                               f"{len(spec.shape)} positive integers ({spec.layout}, e.g. {format_shape(spec.shape)})")
        return tuple(shapes)


def format_shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


_CLASSES = {"num_classes": Option(1000, "classifier outputs")}


def _image(shape: Shape = (1, 3, 224, 224)) -> tuple[InputSpec, ...]:
    return (InputSpec("x", shape, "NCHW"),)


def _entries() -> dict[str, ZooEntry]:
    cnn, rnn, sr = "workloads.zoo.cnn_torch", "workloads.zoo.rnn_torch", "workloads.zoo.sr_torch"
    e = [
        ZooEntry("alexnet", "classification", "AlexNet (Caffe bvlc_alexnet: grouped convs, LRN)",
                 _image((1, 3, 227, 227)), ("logits",), f"{cnn}:AlexNet", cnn_ir.alexnet, _CLASSES,
                 source="Krizhevsky et al. 2012; Caffe models/bvlc_alexnet"),
        ZooEntry("zfnet", "classification", "ZFNet (7x7/2 conv1, LRN after pools 1-2)", _image(), ("logits",),
                 f"{cnn}:ZFNet", cnn_ir.zfnet, _CLASSES, source="Zeiler & Fergus 2013, Fig. 3"),
        ZooEntry("vgg16", "classification", "VGG-16 (configuration D)", _image(), ("logits",), f"{cnn}:VGG16",
                 cnn_ir.vgg16, _CLASSES, source="Simonyan & Zisserman 2014, Table 1 D"),
        ZooEntry("googlenet", "classification", "GoogLeNet / Inception v1 with LRN, no BN, no aux heads", _image(),
                 ("logits",), f"{cnn}:GoogLeNet", cnn_ir.googlenet, _CLASSES,
                 source="Szegedy et al. 2014, Table 1; Caffe models/bvlc_googlenet"),
    ]
    for name in ("resnet18", "resnet50", "resnet101"):
        depth = name[6:]
        e.append(ZooEntry(name, "classification", f"ResNet-{depth} (BN after every conv)", _image(), ("logits",),
                          f"{cnn}:ResNet", cnn_ir.resnet, _CLASSES, {"variant": name},
                          source="He et al. 2015, Table 1 (stride on the 3x3 conv)"))
    e.append(ZooEntry("mobilenet_v2", "classification", "MobileNetV2 1.0 (inverted residuals, ReLU6, BN)", _image(),
                      ("logits",), f"{cnn}:MobileNetV2", cnn_ir.mobilenet_v2, _CLASSES,
                      source="Sandler et al. 2018, Table 2"))
    for name, v in (("squeezenet1_0", "1.0"), ("squeezenet1_1", "1.1")):
        e.append(ZooEntry(name, "classification", f"SqueezeNet {v} (fire modules, conv classifier)", _image(),
                          ("logits",), f"{cnn}:SqueezeNet", cnn_ir.squeezenet, _CLASSES, {"variant": name},
                          source="Iandola et al. 2016 (v1.0 Table 1; v1.1 from the SqueezeNet repository)"))
    seq = lambda shape: (InputSpec("x", shape, "TBF"),)  # noqa: E731
    for name, cell in (("lstm_stack", "LSTM"), ("gru_stack", "GRU")):
        e.append(ZooEntry(name, "recurrent", f"3 stacked {cell} layers of 512 + per-step 29-way head",
                          seq((25, 1, 512)), ("y",), f"{rnn}:StackedRNN", rnn_ir.stacked_rnn,
                          {"hidden": Option(512, "hidden units per layer"), "layers": Option(3, "stacked layers"),
                           "num_classes": Option(29, "per-step outputs (0: no head)", minimum=0)},
                          {"cell": cell}, source="project choice (docs/zoo.md)"))
    e.append(ZooEntry("lstm_cell", "recurrent", "single LSTM layer, 1024 hidden, 25 steps (DeepBench kernel)",
                      seq((25, 1, 1024)), ("y",), f"{rnn}:StackedRNN", rnn_ir.stacked_rnn,
                      {"hidden": Option(1024, "hidden units")}, {"cell": "LSTM", "layers": 1, "num_classes": 0},
                      source="DeepBench inference_server_set (1024, 1, 25, lstm)"))
    e.append(ZooEntry(
        "asr_attention", "speech", "LSTM encoder-attention-decoder ASR, decoder unrolled for `steps` tokens",
        (InputSpec("features", (64, 1, 80), "TBF"),), ("logits",), f"{rnn}:AttentionASR", rnn_ir.attention_asr,
        {"hidden": Option(1024, "LSTM units (encoder and decoder)"), "enc_layers": Option(5, "encoder LSTM layers"),
         "dec_layers": Option(2, "decoder LSTM layers"), "embed": Option(256, "token embedding size"),
         "vocab": Option(1024, "output units (BPE)"), "steps": Option(16, "unrolled decoder steps")},
        source="sized after ShrinkML (arXiv:1907.03540) [recalled]; docs/zoo.md"))
    img = lambda shape: (InputSpec("x", shape, "NCHW"),)  # noqa: E731
    e += [
        ZooEntry("srcnn", "super-resolution", "SRCNN 9-1-5 on the bicubic-upscaled Y channel", img((1, 1, 192, 192)),
                 ("y",), f"{sr}:SRCNN", sr_ir.srcnn,
                 {"n1": Option(64, "patch-extraction filters"), "n2": Option(32, "mapping filters")},
                 source="Dong et al. 2014"),
        ZooEntry("fsrcnn", "super-resolution", "FSRCNN(56,12,4), x3 by a 9x9 ConvTranspose", img((1, 1, 64, 64)),
                 ("y",), f"{sr}:FSRCNN", sr_ir.fsrcnn,
                 {"d": Option(56, "feature channels"), "s": Option(12, "shrunk channels"),
                  "m": Option(4, "mapping layers", minimum=0), "scale": Option(3, "upscaling factor")},
                 source="Dong et al. 2016"),
        ZooEntry("espcn", "super-resolution", "ESPCN x3 (sub-pixel conv, PixelShuffle)", img((1, 1, 64, 64)), ("y",),
                 f"{sr}:ESPCN", sr_ir.espcn,
                 {"n1": Option(64, "first-layer filters"), "n2": Option(32, "second-layer filters"),
                  "scale": Option(3, "upscaling factor")}, source="Shi et al. 2016"),
        ZooEntry("edsr", "super-resolution", "EDSR-baseline x2 (16 res blocks, 64 features)", img((1, 3, 64, 64)),
                 ("y",), f"{sr}:EDSR", sr_ir.edsr,
                 {"blocks": Option(16, "residual blocks", minimum=0), "features": Option(64, "feature channels"),
                  "scale": Option(2, "upscaling factor", choices=(2, 3, 4, 8))}, source="Lim et al. 2017"),
    ]
    return {x.name: x for x in e}


ZOO: dict[str, ZooEntry] = _entries()
FAMILIES = tuple(dict.fromkeys(x.family for x in ZOO.values()))


def names(family: str | None = None) -> list[str]:
    if family is not None and family not in FAMILIES:
        raise ZooError(f"unknown zoo family '{family}'; families: {', '.join(FAMILIES)}")
    return [n for n, x in ZOO.items() if family is None or x.family == family]


def entry(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise ZooError(f"unknown zoo network '{name}'; known: {', '.join(ZOO)} (see `ovl zoo list`)") from None


def build_ir(name: str, input_shapes: Sequence[Sequence[int]] | None = None, *, weights: WeightMode = "none",
             seed: int = 0, **options: Any) -> Graph:
    """The network as an IR graph built directly (no torch, no ONNX); `weights="none"` gives shapes only."""
    e = entry(name)
    shapes = e.resolve_shapes(input_shapes)
    opts = e.resolve_options(options)
    b = GraphBuilder(name, weights=weights, seed=seed)
    xs = [b.input(spec.name, s) for spec, s in zip(e.inputs, shapes)]
    try:
        out = e.ir_builder(b, *xs, **e.fixed, **opts)
    except ModelError as exc:
        raise ZooError(f"zoo network '{name}' cannot take input shape(s) {', '.join(map(format_shape, shapes))} "
                       f"with options {opts}: {exc}") from None
    g = b.build([out])
    g.metadata.update({"zoo": name, "options": opts, "input_shapes": [list(s) for s in shapes]})
    return g


def count_params(g: Graph) -> int:
    """Parameters of a graph: elements of the distinct constant tensors its nodes read (a weight shared by
    several nodes, like an unrolled decoder's, counts once; `Graph.totals` does the counting)."""
    return g.totals().params


def count_macs(g: Graph) -> int:
    return g.totals().macs


def info(name: str, input_shapes: Sequence[Sequence[int]] | None = None, **options: Any) -> dict[str, Any]:
    """One record for `ovl zoo list`: name, family, inputs, MACs and parameters (from the direct IR build)."""
    e = entry(name)
    g = build_ir(name, input_shapes, **options)
    return {"name": name, "family": e.family, "description": e.description,
            "inputs": {i: list(g.tensors[i].shape) for i in g.inputs},
            "outputs": {o: list(g.tensors[o].shape) for o in g.outputs},
            "macs": count_macs(g), "params": count_params(g), "options": g.metadata["options"], "source": e.source}



def parse_shape(text: str) -> Shape:
    """'1x3x224x224' or '1,3,224,224' -> (1, 3, 224, 224)."""
    parts = text.replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise ZooError(f"input shape '{text}' is not a list of integers; write it like 1x3x224x224") from None
    if any(d < 1 for d in shape):
        raise ZooError(f"input shape '{text}' has a dimension below 1")
    return shape


def parse_options(items: Sequence[str]) -> dict[str, int]:
    """['steps=4', 'hidden=256'] -> {'steps': 4, 'hidden': 256}."""
    out: dict[str, int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key.strip()] = int(value)
        except ValueError:
            raise ZooError(f"option '{item}' must look like KEY=INTEGER (e.g. steps=4)") from None
    return out
