// Feature writer (docs/isa.md section 5.7, feature format): each stream element {b, n, y, x, C features} goes to
//     DDR byte  ddr + n*pn + b*pc + y*py + x*C            (when ddr_en)
//     SB entry  sb + ((n*ceil(c/C) + b)*rows + y)*width + x (when sb_en)
// with per-feature enables: channel b*C + l < c is written; lanes after the last channel are written with zero
// when zfill, else left untouched (masked write). `done` rises once all n*ceil(c/C)*rows*width elements are
// written. One element per cycle; the DDR write port back-pressures the stream.
module ovl_fwrite #(
    parameter integer C = 4,
    parameter integer W_SBN = 13,
    parameter integer W_KT = 11,
    parameter integer SB_AW = 12,
    parameter integer AW = 30
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          start,
    input  wire                          ddr_en,
    input  wire                          sb_en,
    input  wire                          zfill,
    input  wire [31:0]                   ddr,
    input  wire [31:0]                   pn,
    input  wire [31:0]                   pc,
    input  wire [31:0]                   py,
    input  wire [W_SBN-1:0]              n_img,
    input  wire [16:0]                   c,
    input  wire [W_SBN-1:0]              rows,
    input  wire [W_SBN-1:0]              width,
    input  wire [SB_AW-1:0]              sb,
    input  wire                          in_valid,
    input  wire [W_KT+3*W_SBN+C*8-1:0]   in_data,
    output wire                          in_ready,
    output reg                           wr_valid,
    output reg  [AW-1:0]                 wr_addr,
    output reg  [C*8-1:0]                wr_data,
    output reg  [C-1:0]                  wr_be,
    input  wire                          wr_ready,
    output reg                           sb_we,
    output reg  [SB_AW-1:0]              sb_addr,
    output reg  [C*8-1:0]                sb_data,
    output reg  [C-1:0]                  sb_be,
    output wire                          done
);
    localparam integer ELW = W_KT + 3 * W_SBN + C * 8;
    localparam integer CB = $clog2(C);
    localparam [16:0] CV = C[16:0];
    wire [W_KT-1:0]  b  = in_data[ELW-1 -: W_KT];
    wire [W_SBN-1:0] n  = in_data[C*8 + 3*W_SBN - 1 -: W_SBN];
    wire [W_SBN-1:0] y  = in_data[C*8 + 2*W_SBN - 1 -: W_SBN];
    wire [W_SBN-1:0] x  = in_data[C*8 + W_SBN - 1 -: W_SBN];

    reg  [31:0] total, count;
    reg  [16:0] cblocks;
    assign in_ready = !wr_valid || wr_ready;
    assign done = (count == total) && !wr_valid;

    wire [31:0] byte_addr = ddr + {{(32-W_SBN){1'b0}}, n} * pn + {{(32-W_KT){1'b0}}, b} * pc
                          + {{(32-W_SBN){1'b0}}, y} * py + ({{(32-W_SBN){1'b0}}, x} << CB);
    wire [31:0] sb_lin = ((({{(32-W_SBN){1'b0}}, n} * {15'd0, cblocks}) + {{(32-W_KT){1'b0}}, b})
                          * {{(32-W_SBN){1'b0}}, rows} + {{(32-W_SBN){1'b0}}, y}) * {{(32-W_SBN){1'b0}}, width}
                          + {{(32-W_SBN){1'b0}}, x};
    reg [C*8-1:0] d;
    reg [C-1:0]   be;
    integer l;
    always @(*) begin
        for (l = 0; l < C; l = l + 1) begin
            if (({{(32-W_KT){1'b0}}, b} * C + l) < {15'd0, c}) begin
                d[l*8 +: 8] = in_data[l*8 +: 8];
                be[l] = 1'b1;
            end else begin
                d[l*8 +: 8] = 8'd0;
                be[l] = zfill;
            end
        end
    end

    wire acc = in_valid && in_ready;
    always @(posedge clk) begin
        if (rst) begin
            wr_valid <= 1'b0;
            sb_we <= 1'b0;
            count <= 32'd0;
            total <= 32'd0;
        end else if (start) begin
            wr_valid <= 1'b0;
            sb_we <= 1'b0;
            count <= 32'd0;
            cblocks <= (c + CV - 17'd1) >> CB;
            total <= {{(32-W_SBN){1'b0}}, n_img} * {15'd0, ((c + CV - 17'd1) >> CB)}
                   * {{(32-W_SBN){1'b0}}, rows} * {{(32-W_SBN){1'b0}}, width};
        end else begin
            if (wr_valid && wr_ready) wr_valid <= 1'b0;
            sb_we <= 1'b0;
            if (acc) begin
                count <= count + 32'd1;
                if (ddr_en) begin
                    wr_valid <= 1'b1;
                    wr_addr <= byte_addr[CB +: AW];
                    wr_data <= d;
                    wr_be <= be;
                end
                if (sb_en) begin
                    sb_we <= 1'b1;
                    sb_addr <= sb + sb_lin[SB_AW-1:0];
                    sb_data <= d;
                    sb_be <= be;
                end
            end
        end
    end
endmodule
