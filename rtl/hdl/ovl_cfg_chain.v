// The config network: N_MOD hops in module-ID order (hop m delivers to module ID m). Packets that leave the last
// hop were addressed to no module: they are dropped and `bad_id` is raised (sticky until reset).
// Per-module FIFO outputs are flattened: module m's word is cfg_data[m*(PAYLOAD+10) +: PAYLOAD+10].
module ovl_cfg_chain #(
    parameter integer N_MOD = 13,
    parameter integer PACKET = 64,
    parameter integer PAYLOAD = 32,
    parameter integer FIFO_DEPTH = 32
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          in_valid,
    input  wire [PACKET-1:0]             in_data,
    output wire                          in_ready,
    output wire [N_MOD-1:0]              cfg_valid,
    output wire [N_MOD*(PAYLOAD+10)-1:0] cfg_data,
    input  wire [N_MOD-1:0]              cfg_ready,
    output reg                           bad_id
);
    localparam integer CW = $clog2(FIFO_DEPTH + 1);
    wire [N_MOD:0]          v;
    wire [N_MOD:0]          r;
    wire [PACKET-1:0]       d [0:N_MOD];
    assign v[0] = in_valid;
    assign d[0] = in_data;
    assign in_ready = r[0];
    assign r[N_MOD] = 1'b1;

    genvar m;
    generate
        for (m = 0; m < N_MOD; m = m + 1) begin : hop
            wire [CW-1:0] count;
            ovl_cfg_node #(.ID(m), .PACKET(PACKET), .PAYLOAD(PAYLOAD), .FIFO_DEPTH(FIFO_DEPTH)) node (
                .clk(clk), .rst(rst),
                .in_valid(v[m]), .in_data(d[m]), .in_ready(r[m]),
                .out_valid(v[m+1]), .out_data(d[m+1]), .out_ready(r[m+1]),
                .cfg_valid(cfg_valid[m]), .cfg_data(cfg_data[m*(PAYLOAD+10) +: PAYLOAD+10]),
                .cfg_ready(cfg_ready[m]), .cfg_count(count)
            );
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) bad_id <= 1'b0;
        else if (v[N_MOD]) bad_id <= 1'b1;
    end
endmodule
