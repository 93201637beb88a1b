"""Synthesizable Verilog of the overlay core (rtl/hdl), its parameter header generator (rtl.gen_params), the
cocotb testbenches (rtl/tb) and the yosys synthesis flow (rtl.synth). docs/rtl.md describes all of it."""
