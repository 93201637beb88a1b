// Per-PE filter caches and bias caches. PE p's filter cache holds DEPTH entries of C weights; its bias cache
// BDEPTH int32 biases. The filter reader writes one PE's entry (or bias) per cycle; the PE array reads the same
// address of every PE's cache in one cycle (all PEs step through the same entry of their own filter) and gets
// the K entries side by side. Reads are registered (one cycle, like a block RAM).
module ovl_filter_cache #(
    parameter integer K = 4,
    parameter integer C = 4,
    parameter integer DEPTH = 256,
    parameter integer BDEPTH = 64
) (
    input  wire                       clk,
    // write port (filter reader)
    input  wire                       we,
    input  wire [$clog2(K)-1:0]       w_pe,
    input  wire [$clog2(DEPTH)-1:0]   w_addr,
    input  wire [C*8-1:0]             w_data,
    input  wire                       bwe,
    input  wire [$clog2(BDEPTH)-1:0]  b_addr_w,
    input  wire [31:0]                b_data,
    // read port (PE array)
    input  wire [$clog2(DEPTH)-1:0]   r_addr,
    input  wire [$clog2(BDEPTH)-1:0]  rb_addr,
    output wire [K*C*8-1:0]           r_data,
    output wire [K*32-1:0]            rb_data
);
    genvar p;
    generate
        for (p = 0; p < K; p = p + 1) begin : pe
            reg [C*8-1:0] mem [0:DEPTH-1];
            reg [31:0]    bmem [0:BDEPTH-1];
            reg [C*8-1:0] q;
            reg [31:0]    bq;
            always @(posedge clk) begin
                if (we && w_pe == p) mem[w_addr] <= w_data;
                if (bwe && w_pe == p) bmem[b_addr_w] <= b_data;
                q <= mem[r_addr];
                bq <= bmem[rb_addr];
            end
            assign r_data[p*C*8 +: C*8] = q;
            assign rb_data[p*32 +: 32] = bq;
        end
    endgenerate
endmodule
