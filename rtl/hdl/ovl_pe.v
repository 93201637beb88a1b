// One processing element: a C-wide INT8 x INT8 dot product with INT32 accumulation.
//
// Pipeline: operand registers (feature broadcast and filter-cache read arrive through fabric registers) ->
// C signed 8x8 multipliers (registered) -> pipelined binary adder tree (clog2(C) registered levels, one bit of
// growth per level) -> interleaved accumulator.
//
// Interleaving (pe_array.interleave_features x interleave_filters = THREADS, Arch.accumulator_threads): the PE
// works on THREADS independent accumulations at once, one per cycle in turn, so the same accumulation is updated
// every THREADS cycles. The accumulator is a THREADS-stage circulating register: the partial sum that leaves the
// last stage re-enters the adder together with the next product sum of the same thread. This is what lets a
// deeper (pipelined) accumulator adder run at full rate; a thread's slot in the circulation is fixed, so the
// caller must present slots every cycle in thread order (invalid slots are bubbles).
//
// Per slot: in_first starts the thread's accumulation from `init` (bias or 0), in_last emits the final sum on
// out_acc one cycle after the slot reaches the accumulator (out_valid when the slot was valid). `init` is
// sampled when the slot reaches the accumulator, LATENCY_INIT = 2 + clog2(C) cycles after the slot's operands
// (the bias-cache read is issued late, so no 32-bit delay line is needed per PE).
module ovl_pe #(
    parameter integer C = 4,
    parameter integer THREADS = 4
) (
    input  wire               clk,
    input  wire               in_valid,
    input  wire               in_first,
    input  wire               in_last,
    input  wire [C*8-1:0]     x,
    input  wire [C*8-1:0]     w,
    input  wire [31:0]        init,
    output reg                out_valid,
    output reg  [31:0]        out_acc
);
    localparam integer L = (C > 1) ? $clog2(C) : 0;
    localparam integer D = 2 + L;                 // slot -> accumulator stage: operand regs, multiply, tree
    localparam integer SW = 16 + L;               // width of the dot product

    // --- operand registers and multipliers (products are combinational from the operand registers, then
    //     registered as one vector)
    reg  [C*8-1:0]  x_r, w_r;
    reg  [C*16-1:0] prod;
    wire [C*16-1:0] prod_w;
    genvar l, k;
    generate
        for (k = 0; k < C; k = k + 1) begin : mul
            assign prod_w[k*16 +: 16] = $signed(x_r[k*8 +: 8]) * $signed(w_r[k*8 +: 8]);
        end
    endgenerate
    always @(posedge clk) begin
        x_r <= x;
        w_r <= w;
        prod <= prod_w;
    end

    // --- adder tree: level l holds C >> l sums of 16 + l bits, each level registered
    generate
        for (l = 0; l <= L; l = l + 1) begin : lvl
            localparam integer N = C >> l;
            localparam integer WL = 16 + l;
            wire [N*WL-1:0] s;
            if (l == 0) begin : leaf
                assign s = prod;
            end else begin : node
                reg  [N*WL-1:0] r;
                wire [N*WL-1:0] a;
                for (k = 0; k < N; k = k + 1) begin : add
                    assign a[k*WL +: WL] = $signed(lvl[l-1].s[(2*k)*(WL-1) +: WL-1])
                                         + $signed(lvl[l-1].s[(2*k+1)*(WL-1) +: WL-1]);
                end
                always @(posedge clk) r <= a;
                assign s = r;
            end
        end
    endgenerate
    wire [SW-1:0] sum = lvl[L].s;

    // --- sideband delayed to the accumulator stage
    reg [D-1:0]    v_d, f_d, l_d;
    always @(posedge clk) begin
        v_d <= {v_d[D-2:0], in_valid};
        f_d <= {f_d[D-2:0], in_first};
        l_d <= {l_d[D-2:0], in_last};
    end

    // --- interleaved accumulator: THREADS circulating partial sums (acc[THREADS-1] is the oldest)
    reg  [THREADS*32-1:0] acc;
    wire [31:0] oldest = acc[THREADS*32-1 -: 32];
    wire [31:0] base   = f_d[D-1] ? init : oldest;
    wire [31:0] nxt    = base + {{(32-SW){sum[SW-1]}}, sum};
    generate
        if (THREADS > 1) begin : circ
            always @(posedge clk) acc <= {acc[(THREADS-1)*32-1:0], nxt};
        end else begin : single
            always @(posedge clk) acc <= nxt;
        end
    endgenerate
    always @(posedge clk) begin
        out_valid <= v_d[D-1] && l_d[D-1];
        if (v_d[D-1] && l_d[D-1]) out_acc <= nxt;
    end
endmodule
