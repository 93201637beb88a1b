// Feature reader (docs/isa.md section 3, step 1), feature format: for each enabled descriptor r0, r1 it copies
// n x cb x rows x width entries from DDR (entry (n, b, y, x) at byte ddr + n*pn + b*pc + y*py + x*C) to the
// stream buffer at sb + ((n*cb + b)*rows + y)*width + x, which is simply consecutive entries. Requests are
// pipelined (one per cycle) with up to OUTSTANDING in flight; responses return in order and are written to the
// stream buffer as they arrive.
module ovl_fread #(
    parameter integer C = 4,
    parameter integer W_SBN = 13,
    parameter integer SB_AW = 12,
    parameter integer AW = 30,
    parameter integer OUTSTANDING = 32
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,
    input  wire [1:0]           en,          // descriptor enables {r1, r0}
    input  wire [63:0]          ddr,         // {r1, r0} byte addresses
    input  wire [63:0]          pn,
    input  wire [63:0]          pc,
    input  wire [63:0]          py,
    input  wire [2*W_SBN-1:0]   n_img,
    input  wire [2*W_SBN-1:0]   cb,
    input  wire [2*W_SBN-1:0]   rows,
    input  wire [2*W_SBN-1:0]   width,
    input  wire [2*SB_AW-1:0]   sb,
    output wire                 req_valid,
    output wire [AW-1:0]        req_addr,
    input  wire                 req_ready,
    input  wire                 resp_valid,
    input  wire [C*8-1:0]       resp_data,
    output reg                  sb_we,
    output reg  [SB_AW-1:0]     sb_addr,
    output reg  [C*8-1:0]       sb_data,
    output wire                 busy
);
    localparam integer CB = $clog2(C);
    localparam integer OW = $clog2(OUTSTANDING + 1);
    localparam [OW-1:0] OMAX = OUTSTANDING[OW-1:0];

    reg              issuing;
    reg              d;                // current descriptor
    reg [W_SBN-1:0]  cn, cbk, cy, cx;
    reg [31:0]       p_img, p_blk, p_row, p_x;
    reg [SB_AW-1:0]  sa;
    reg [OW-1:0]     outstanding;

    wire [W_SBN-1:0] dn = d ? n_img[W_SBN +: W_SBN] : n_img[0 +: W_SBN];
    wire [W_SBN-1:0] dc = d ? cb[W_SBN +: W_SBN] : cb[0 +: W_SBN];
    wire [W_SBN-1:0] dr = d ? rows[W_SBN +: W_SBN] : rows[0 +: W_SBN];
    wire [W_SBN-1:0] dw = d ? width[W_SBN +: W_SBN] : width[0 +: W_SBN];
    wire [31:0]      dpn = d ? pn[63:32] : pn[31:0];
    wire [31:0]      dpc = d ? pc[63:32] : pc[31:0];
    wire [31:0]      dpy = d ? py[63:32] : py[31:0];

    // SB write address of each outstanding request, in issue order
    wire             tag_ready, tag_valid;
    wire [SB_AW-1:0] tag_addr;
    wire [$clog2(OUTSTANDING+1)-1:0] tag_count;
    assign req_valid = issuing && tag_ready && (outstanding != OMAX);
    assign req_addr  = p_x[CB +: AW];
    wire fire = req_valid && req_ready;
    ovl_fifo #(.W(SB_AW), .DEPTH(OUTSTANDING)) tags (
        .clk(clk), .rst(rst), .in_valid(fire), .in_data(sa), .in_ready(tag_ready),
        .out_valid(tag_valid), .out_data(tag_addr), .out_ready(resp_valid), .count(tag_count));
    assign busy = issuing || (outstanding != {OW{1'b0}});

    wire empty0 = !en[0] || n_img[0 +: W_SBN] == 0 || cb[0 +: W_SBN] == 0 || rows[0 +: W_SBN] == 0
                  || width[0 +: W_SBN] == 0;
    wire empty1 = !en[1] || n_img[W_SBN +: W_SBN] == 0 || cb[W_SBN +: W_SBN] == 0 || rows[W_SBN +: W_SBN] == 0
                  || width[W_SBN +: W_SBN] == 0;

    always @(posedge clk) begin
        if (rst) begin
            issuing <= 1'b0;
            outstanding <= {OW{1'b0}};
            sb_we <= 1'b0;
        end else begin
            sb_we <= resp_valid;
            if (resp_valid) begin
                sb_addr <= tag_addr;
                sb_data <= resp_data;
            end
            if (fire && !resp_valid) outstanding <= outstanding + 1'b1;
            else if (!fire && resp_valid) outstanding <= outstanding - 1'b1;
            if (start) begin
                issuing <= !(empty0 && empty1);
                d <= empty0;
                cn <= 0; cbk <= 0; cy <= 0; cx <= 0;
                p_img <= empty0 ? ddr[63:32] : ddr[31:0];
                p_blk <= empty0 ? ddr[63:32] : ddr[31:0];
                p_row <= empty0 ? ddr[63:32] : ddr[31:0];
                p_x <= empty0 ? ddr[63:32] : ddr[31:0];
                sa <= empty0 ? sb[SB_AW +: SB_AW] : sb[0 +: SB_AW];
            end else if (fire) begin
                sa <= sa + 1'b1;
                if (cx != dw - 1'b1) begin
                    cx <= cx + 1'b1;
                    p_x <= p_x + C;
                end else begin
                    cx <= 0;
                    if (cy != dr - 1'b1) begin
                        cy <= cy + 1'b1;
                        p_row <= p_row + dpy;
                        p_x <= p_row + dpy;
                    end else begin
                        cy <= 0;
                        if (cbk != dc - 1'b1) begin
                            cbk <= cbk + 1'b1;
                            p_blk <= p_blk + dpc;
                            p_row <= p_blk + dpc;
                            p_x <= p_blk + dpc;
                        end else begin
                            cbk <= 0;
                            if (cn != dn - 1'b1) begin
                                cn <= cn + 1'b1;
                                p_img <= p_img + dpn;
                                p_blk <= p_img + dpn;
                                p_row <= p_img + dpn;
                                p_x <= p_img + dpn;
                            end else begin
                                cn <= 0;
                                if (!d && !empty1) begin
                                    d <= 1'b1;
                                    p_img <= ddr[63:32];
                                    p_blk <= ddr[63:32];
                                    p_row <= ddr[63:32];
                                    p_x <= ddr[63:32];
                                    sa <= sb[SB_AW +: SB_AW];
                                end else begin
                                    issuing <= 1'b0;
                                end
                            end
                        end
                    end
                end
            end
        end
    end
endmodule
