// int8 requantisation of the K accumulators of one PE-array result (docs/isa.md section 4):
//     q = sat8((acc * rq_mult + 2^(rq_shift-1)) >>> rq_shift)     (no rounding term when rq_shift = 0)
// Lanes of filters beyond the tile's k (the last pass of a tile whose k is not a multiple of K) are zero.
// Two pipeline stages: the 32 x 16 multiply, then round, shift and saturate.
module ovl_requant #(
    parameter integer K = 4,
    parameter integer TAGW = 50,
    parameter integer W_KT = 11
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 in_valid,
    input  wire [K*32-1:0]      acc,
    input  wire [TAGW-1:0]      tag,
    input  wire [15:0]          mult,
    input  wire [5:0]           shift,
    input  wire [W_KT-1:0]      k,
    output reg                  out_valid,
    output reg  [K*8-1:0]       q,
    output reg  [TAGW-1:0]      out_tag
);
    wire [W_KT-1:0]    j;
    wire signed [63:0] rnd = (shift == 6'd0) ? 64'sd0 : (64'sd1 <<< (shift - 6'd1));
    reg  [K*64-1:0]    prod;
    wire [K*64-1:0]    prod_w;
    wire [K-1:0]       live;
    wire [K*8-1:0]     q_w;
    reg                v1;
    reg  [TAGW-1:0]    tag1;
    assign j = tag1[TAGW-1 -: W_KT];               // pass of the result in stage 2
    genvar p;
    generate
        for (p = 0; p < K; p = p + 1) begin : lane
            assign prod_w[p*64 +: 64] = $signed({{32{acc[p*32+31]}}, acc[p*32 +: 32]}) * $signed({48'd0, mult});
            assign live[p] = ({{(32-W_KT){1'b0}}, j} * K + p) < {{(32-W_KT){1'b0}}, k};
            wire signed [63:0] r = ($signed(prod[p*64 +: 64]) + rnd) >>> shift;
            assign q_w[p*8 +: 8] = !live[p] ? 8'd0 : (r > 64'sd127) ? 8'd127 : (r < -64'sd128) ? 8'h80 : r[7:0];
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            v1 <= in_valid;
            out_valid <= v1;
        end
        if (in_valid) begin
            tag1 <= tag;
            prod <= prod_w;
        end
        if (v1) begin
            out_tag <= tag1;
            q <= q_w;
        end
    end
endmodule
