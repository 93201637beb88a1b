"""Assembly text: byte-exact round trips, annotations, and one-line errors for malformed text."""
import pytest

from compiler.asm import assemble, disassemble
from compiler.builder import GraphBuilder
from compiler.compile import compile_model
from compiler.errors import ProgramError


def program(arch="a10_generic", level=2, weights="random"):
    b = GraphBuilder("asm", weights=weights, seed=1)
    x = b.input("x", (1, 8, 8, 8))
    y = b.relu(b.conv(x, 16, 3, pad=1))
    y = b.op("Transpose", [y], {"perm": [0, 1, 3, 2]})[0]          # a host partition with its own constants
    y = b.mul(y, b.const("k", (1, 16, 8, 8), fill=None, fan_in=1))
    y = b.activation(b.max_pool(y, 2), "LeakyRelu", alpha=0.1)
    return compile_model(b.build([b.softmax(b.fc(y, 10), axis=1)]), arch, opt_level=level).program


@pytest.mark.parametrize("arch", ["tiny", "a10_generic", "dla_alexnet_a10"])
@pytest.mark.parametrize("level", [0, 2])
def test_round_trip_is_byte_exact(arch, level):
    p = program(arch, level)
    text = disassemble(p)
    assert assemble(text).encode() == p.encode()
    assert disassemble(assemble(text)) == text


def test_round_trip_without_weights_and_with_side_file():
    p = program(weights="none")
    assert p.weights is None
    assert assemble(disassemble(p)).encode() == p.encode()
    q = program()
    text = disassemble(q, weights_file="w.bin")
    assert ".weights file" in text and ".weights base64" not in text
    assert assemble(text, weights=q.weights).encode() == q.encode()
    with pytest.raises(ProgramError, match="side file"):
        assemble(text)


def test_disassembly_is_annotated():
    p = program()
    text = disassemble(p)
    lines = text.splitlines()
    b0 = lines.index(next(ln for ln in lines if ln.startswith("bundle 0 ")))
    comment = lines[b0 + 1]
    assert comment.strip().startswith("; conv conv") and "x 1x8x8x8" in comment and "onnx conv" in comment
    assert "k 0:16" in comment and "y 0:8" in comment
    assert any(ln.strip().startswith("act") and "fn=relu" in ln for ln in lines)
    assert any(ln.strip().startswith("act") and "alpha=0.1" in ln for ln in lines)
    assert ".host " in text and ".tensor " in text


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_malformed_text_rejected_with_one_line_errors():
    text = disassemble(program())
    cases = [
        (edit(text, "fn=relu", "fn=swish"), "legal: identity"),
        (edit(text, "fn=relu", "bogus=3"), "unknown field 'bogus'"),
        (edit(text, " k=16", " k=99999"), "out of range"),
        (edit(text, "bundle 1 ", "bundle 7 "), "numbered 0, 1, 2"),
        (edit(text, ".ovlasm 1.0", ".ovlasm 9.0"), "version 9.0"),
        (edit(text, "  pe ", "  pq "), "cannot parse"),
        (edit(text, "fn=relu", "fn=relu fn=relu"), "given twice"),
        (edit(text, "fn=relu", "fn="), "cannot parse"),
        (edit(text, "fn=relu", "fn=relu 3"), "cannot parse"),
        (edit(text, ".arch {", ".arch {oops"), "not valid JSON"),
        (text[:text.rindex(".end")], "no .end"),
        (text.replace(".end", "", 1), "not valid base64"),
    ]
    for bad, msg in cases:
        with pytest.raises(ProgramError, match=msg) as e:
            assemble(bad, "t.ovlasm")
        assert "\n" not in str(e.value)


def test_field_lists_allow_blanks_comments_and_any_order():
    """A kernel line's NAME=VALUE list is one FIELDS token of the grammar: blanks around '=', a trailing comment
    and reordered fields read back to the same program."""
    p = program()
    text = disassemble(p)
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.strip().startswith("act") and "fn=relu" in ln)
    head, fields = lines[i].split(None, 1)
    parts = fields.split()
    lines[i] = "  " + head + "   " + " ".join(reversed([x.replace("=", " = ", 1) for x in parts])) + "  ; edited"
    assert assemble("\n".join(lines)).encode() == p.encode()
