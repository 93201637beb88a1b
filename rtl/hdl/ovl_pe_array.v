// The PE array: K PEs of C-wide dot products. The feature entry is broadcast to every PE (through one register
// stage); each PE receives its own filter entry from its filter cache and its own accumulator init (bias).
// All PEs share the slot sideband (valid / first / last), so they step through the same accumulations.
// out_acc[p*32 +: 32] is PE p's result, 4 + clog2(C) cycles after the slot. init[p*32 +: 32] (PE p's bias) is
// sampled 3 + clog2(C) cycles after the slot, when the slot reaches the accumulators.
module ovl_pe_array #(
    parameter integer K = 4,
    parameter integer C = 4,
    parameter integer THREADS = 4
) (
    input  wire               clk,
    input  wire               in_valid,
    input  wire               in_first,
    input  wire               in_last,
    input  wire [C*8-1:0]     x,
    input  wire [K*C*8-1:0]   w,
    input  wire [K*32-1:0]    init,
    output wire               out_valid,
    output wire [K*32-1:0]    out_acc
);
    reg [C*8-1:0] x_b;                 // feature broadcast register
    reg [K*C*8-1:0] w_b;
    reg v_b, f_b, l_b;
    always @(posedge clk) begin
        x_b <= x;
        w_b <= w;
        v_b <= in_valid;
        f_b <= in_first;
        l_b <= in_last;
    end

    wire [K-1:0] ov;
    genvar p;
    generate
        for (p = 0; p < K; p = p + 1) begin : pe
            ovl_pe #(.C(C), .THREADS(THREADS)) u (
                .clk(clk), .in_valid(v_b), .in_first(f_b), .in_last(l_b),
                .x(x_b), .w(w_b[p*C*8 +: C*8]), .init(init[p*32 +: 32]),
                .out_valid(ov[p]), .out_acc(out_acc[p*32 +: 32])
            );
        end
    endgenerate
    assign out_valid = ov[0];
endmodule
