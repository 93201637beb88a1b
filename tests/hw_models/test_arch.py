import pytest

from compiler.errors import ArchError
from hw_models.arch import devices, load_arch, shipped_archs


@pytest.mark.parametrize("name", shipped_archs())
def test_shipped_archs_load(name):
    a = load_arch(name)
    assert a.peak_macs_per_cycle == a.pe_array.k_vector * a.pe_array.c_vector * a.pe_array.lanes * a.pe_array.q_vector
    assert a.device in devices()


def test_arria10_resources_are_the_published_totals():
    d = devices()["arria10_gx1150"]
    assert (d.alms, d.dsps, d.memory_blocks) == (427200, 1518, 2713)


def test_illegal_k_vector_names_field_and_legal_values():
    with pytest.raises(ArchError) as e:
        load_arch("a10_generic").with_changes(**{"pe_array.k_vector": 40})
    msg = str(e.value)
    assert "pe_array.k_vector = 40" in msg and "multiple of c_vector (16)" in msg and "\n" not in msg


def test_unknown_key_and_bad_enum_rejected(tmp_path):
    text = (load_arch_text := (tmp_path / "a.toml"))
    base = open(__import__("hw_models.arch", fromlist=["x"]).arch_path("tiny")).read()
    text.write_text(base.replace('precision = "int8"', 'precision = "int4"\nbogus = 1'))
    with pytest.raises(ArchError) as e:
        load_arch(load_arch_text)
    assert "precision" in str(e.value) and "bogus" in str(e.value)


def test_winograd_factor():
    a = load_arch("dla_alexnet_a10")
    assert a.pe_array.w_vector == 6 and a.winograd_factor == 2.0
