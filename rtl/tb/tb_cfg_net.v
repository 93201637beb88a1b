// Simulation wrapper of the config network (ovl_cfg_chain) with the architecture's parameters, for the cocotb
// test rtl/tb/test_cfg_net.py, which drives the packet input and every module's config-FIFO read side.
`timescale 1ns/1ps
`ifndef OVL_PARAMS_VH
`define OVL_PARAMS_VH "tiny_params.vh"
`endif
module tb_cfg_net;
`include `OVL_PARAMS_VH
    localparam integer FW = PAYLOAD_BITS + 10;
    reg clk = 1'b0;
    always #5 clk = ~clk;
    reg                       rst = 1'b1;
    reg                       in_valid = 1'b0;
    reg  [PACKET_BITS-1:0]    in_data = {PACKET_BITS{1'b0}};
    wire                      in_ready;
    wire [N_MODULES-1:0]      cfg_valid;
    wire [N_MODULES*FW-1:0]   cfg_data;
    reg  [N_MODULES-1:0]      cfg_ready = {N_MODULES{1'b0}};
    wire                      bad_id;
    ovl_cfg_chain #(.N_MOD(N_MODULES), .PACKET(PACKET_BITS), .PAYLOAD(PAYLOAD_BITS), .FIFO_DEPTH(CFG_FIFO_DEPTH))
        dut (.clk(clk), .rst(rst), .in_valid(in_valid), .in_data(in_data), .in_ready(in_ready),
             .cfg_valid(cfg_valid), .cfg_data(cfg_data), .cfg_ready(cfg_ready), .bad_id(bad_id));
endmodule
