// Filter reader (docs/isa.md sections 3 step 2 and 6), int8 chunks: the chunk at `ddr` holds filters x entries
// entries of C int8 weights (filter-major), then, at the next 4-byte boundary, nbias int32 biases. Filter f goes
// to PE f mod K at cache address bank*FC_HALF + (f div K)*entries + e; bias i to PE i mod K at bias address
// bank*BIAS_HALF + i div K. Requests are pipelined with up to OUTSTANDING in flight, responses in order.
module ovl_wread #(
    parameter integer K = 4,
    parameter integer C = 4,
    parameter integer W_KT = 11,
    parameter integer W_FCN = 9,
    parameter integer FC_AW = 8,
    parameter integer B_AW = 6,
    parameter integer FC_HALF = 128,
    parameter integer BIAS_HALF = 32,
    parameter integer AW = 30,
    parameter integer OUTSTANDING = 32
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  start,
    input  wire                  bank,
    input  wire [31:0]           ddr,
    input  wire [W_KT-1:0]       filters,
    input  wire [W_FCN-1:0]      entries,
    input  wire [W_KT-1:0]       nbias,
    output wire                  req_valid,
    output wire [AW-1:0]         req_addr,
    input  wire                  req_ready,
    input  wire                  resp_valid,
    input  wire [C*8-1:0]        resp_data,
    output reg                   we,
    output reg                   bwe,
    output reg  [$clog2(K)-1:0]  w_pe,
    output reg  [FC_AW-1:0]      w_addr,
    output reg  [C*8-1:0]        w_data,
    output reg  [B_AW-1:0]       b_addr,
    output reg  [31:0]           b_data,
    output wire                  busy
);
    localparam integer CB = $clog2(C);
    localparam integer PW = (K > 1) ? $clog2(K) : 1;
    localparam integer LW = (C > 4) ? $clog2(C / 4) : 1;
    localparam integer TW = 1 + PW + FC_AW + LW;          // {is_bias, pe, address, 32-bit lane}
    localparam integer OW = $clog2(OUTSTANDING + 1);
    localparam [OW-1:0] OMAX = OUTSTANDING[OW-1:0];
    localparam integer KM1 = K - 1;
    localparam [PW-1:0] PLAST = KM1[PW-1:0];

    reg              issuing, phase_b;
    reg [W_KT-1:0]   f, i;
    reg [W_FCN-1:0]  e;
    reg [PW-1:0]     p;
    reg [FC_AW:0]    fbase;            // bank*FC_HALF + (f div K)*entries
    reg [B_AW:0]     bslot;            // bank*BIAS_HALF + i div K
    reg [31:0]       a;                // byte address of the next request
    reg [OW-1:0]     outstanding;

    wire             tag_ready, tag_valid;
    wire [TW-1:0]    tag;
    wire [FC_AW:0]   faddr = fbase + {{(FC_AW+1-W_FCN){1'b0}}, e};
    wire [LW-1:0]    lane = (C > 4) ? a[2 +: LW] : {LW{1'b0}};
    wire [TW-1:0]    tag_in = phase_b ? {1'b1, p, {{(FC_AW-B_AW){1'b0}}, bslot[B_AW-1:0]}, lane}
                                      : {1'b0, p, faddr[FC_AW-1:0], {LW{1'b0}}};
    assign req_valid = issuing && tag_ready && (outstanding != OMAX);
    assign req_addr  = a[CB +: AW];
    wire fire = req_valid && req_ready;
    wire [$clog2(OUTSTANDING+1)-1:0] tag_count;
    ovl_fifo #(.W(TW), .DEPTH(OUTSTANDING)) tags (
        .clk(clk), .rst(rst), .in_valid(fire), .in_data(tag_in), .in_ready(tag_ready),
        .out_valid(tag_valid), .out_data(tag), .out_ready(resp_valid), .count(tag_count));
    assign busy = issuing || (outstanding != {OW{1'b0}});

    wire [31:0] elem_bytes = {{(32-W_KT){1'b0}}, filters} * {{(32-W_FCN){1'b0}}, entries} * C;
    wire [LW-1:0] rlane = tag[LW-1:0];

    always @(posedge clk) begin
        if (rst) begin
            issuing <= 1'b0;
            outstanding <= {OW{1'b0}};
            we <= 1'b0;
            bwe <= 1'b0;
        end else begin
            we <= resp_valid && !tag[TW-1];
            bwe <= resp_valid && tag[TW-1];
            if (resp_valid) begin
                w_pe <= tag[TW-2 -: PW];
                w_addr <= tag[LW +: FC_AW];
                b_addr <= tag[LW +: B_AW];
                w_data <= resp_data;
                b_data <= resp_data[rlane*32 +: 32];
            end
            if (fire && !resp_valid) outstanding <= outstanding + 1'b1;
            else if (!fire && resp_valid) outstanding <= outstanding - 1'b1;
            if (start) begin
                phase_b <= (filters == 0) || (entries == 0);
                issuing <= !(((filters == 0) || (entries == 0)) && (nbias == 0));
                f <= 0;
                i <= 0;
                e <= 0;
                p <= 0;
                fbase <= bank ? FC_HALF[FC_AW:0] : {(FC_AW+1){1'b0}};
                bslot <= bank ? BIAS_HALF[B_AW:0] : {(B_AW+1){1'b0}};
                a <= ((filters == 0) || (entries == 0)) ? ddr + ((elem_bytes + 32'd3) & ~32'd3) : ddr;
            end else if (fire) begin
                if (!phase_b) begin
                    a <= a + C;
                    if (e != entries - 1'b1) begin
                        e <= e + 1'b1;
                    end else begin
                        e <= 0;
                        f <= f + 1'b1;
                        if (p != PLAST) begin
                            p <= p + 1'b1;
                        end else begin
                            p <= 0;
                            fbase <= fbase + {{(FC_AW+1-W_FCN){1'b0}}, entries};
                        end
                        if (f == filters - 1'b1) begin
                            p <= 0;
                            phase_b <= 1'b1;
                            a <= ddr + ((elem_bytes + 32'd3) & ~32'd3);
                            if (nbias == 0) issuing <= 1'b0;
                        end
                    end
                end else begin
                    a <= a + 32'd4;
                    i <= i + 1'b1;
                    if (p != PLAST) begin
                        p <= p + 1'b1;
                    end else begin
                        p <= 0;
                        bslot <= bslot + 1'b1;
                    end
                    if (i == nbias - 1'b1) issuing <= 1'b0;
                end
            end
        end
    end
endmodule
