// Max-pooling kernel (docs/isa.md section 5.2, type max), streaming.
//
// Input: elements {block b, image n, row y, column x, C features} of each (b, n) plane in raster order; output
// (oy, ox) covers rows oy*sy - pt + [0, kh) and columns ox*sx - pl + [0, kw) and is the maximum over the
// window's positions inside the H x W input. Every input pixel updates the (at most 3 x 3) outputs whose window
// contains it: the running maxima live in a row buffer of 4 output rows x OW_MAX columns (an output row's slot
// is oy mod 4; kh <= 3 so at most 3 rows are open at once). An output whose window's last in-input position is
// the current pixel is complete: it goes to the emission queue with its tag {b, n, oy, ox}. A pixel is accepted
// only when the queue has room for 9 completions; the queue emits one element per cycle. Completion order within
// a pixel is row-major; across pixels it follows the input (the writer addresses each element by its tag).
module ovl_pool #(
    parameter integer C = 4,
    parameter integer W_SBN = 13,
    parameter integer W_KT = 11,
    parameter integer W_PW = 2,
    parameter integer OW_MAX = 64
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire [W_PW-1:0]               kh,
    input  wire [W_PW-1:0]               kw,
    input  wire [W_PW-1:0]               pt,
    input  wire [W_PW-1:0]               pl,
    input  wire [3:0]                    sy,
    input  wire [3:0]                    sx,
    input  wire [W_SBN-1:0]              ohp,
    input  wire [W_SBN-1:0]              owp,
    input  wire [W_SBN-1:0]              h_in,
    input  wire [W_SBN-1:0]              w_in,
    input  wire                          in_valid,
    input  wire [W_KT+3*W_SBN+C*8-1:0]   in_data,
    output wire                          in_ready,
    output wire                          out_valid,
    output wire [W_KT+3*W_SBN+C*8-1:0]   out_data,
    input  wire                          out_ready
);
    localparam integer ELW = W_KT + 3 * W_SBN + C * 8;
    localparam integer OWB = $clog2(OW_MAX);
    localparam integer QD = 16;

    wire [W_KT-1:0]  b  = in_data[ELW-1 -: W_KT];
    wire [W_SBN-1:0] n  = in_data[C*8 + 3*W_SBN - 1 -: W_SBN];
    wire [W_SBN-1:0] y  = in_data[C*8 + 2*W_SBN - 1 -: W_SBN];
    wire [W_SBN-1:0] x  = in_data[C*8 + W_SBN - 1 -: W_SBN];
    wire [C*8-1:0]   px = in_data[C*8-1:0];

    // Candidate output rows (columns) of a pixel: the newest window that starts at or before the pixel,
    // q = min((pos + pad) / stride, outputs - 1), and the two before it. For candidate o: window start
    // st = o*stride - pad, end en = st + k - 1; valid when o >= 0 and en >= pos; the pixel is the window's first
    // in-input position when pos == max(st, 0) and its last when pos == min(en, extent - 1).
    function automatic [2:0] cand(input signed [23:0] o, input signed [23:0] stride, input signed [23:0] pad,
                                  input signed [23:0] kk, input signed [23:0] pos, input signed [23:0] extent);
        reg signed [23:0] st, en;
        begin
            st = o * stride - pad;
            en = st + kk - 24'sd1;
            cand[2] = (o >= 24'sd0) && (en >= pos);
            cand[1] = (st <= 24'sd0) ? (pos == 24'sd0) : (st == pos);
            cand[0] = (en >= extent - 24'sd1) ? (pos == extent - 24'sd1) : (en == pos);
        end
    endfunction

    wire signed [23:0] ys   = {{(24-W_SBN){1'b0}}, y};
    wire signed [23:0] xs   = {{(24-W_SBN){1'b0}}, x};
    wire signed [23:0] sy_s = {20'd0, sy};
    wire signed [23:0] sx_s = {20'd0, sx};
    wire signed [23:0] pt_s = {{(24-W_PW){1'b0}}, pt};
    wire signed [23:0] pl_s = {{(24-W_PW){1'b0}}, pl};
    wire signed [23:0] kh_s = {{(24-W_PW){1'b0}}, kh};
    wire signed [23:0] kw_s = {{(24-W_PW){1'b0}}, kw};
    wire signed [23:0] oh_s = {{(24-W_SBN){1'b0}}, ohp};
    wire signed [23:0] ow_s = {{(24-W_SBN){1'b0}}, owp};
    wire signed [23:0] h_s  = {{(24-W_SBN){1'b0}}, h_in};
    wire signed [23:0] w_s  = {{(24-W_SBN){1'b0}}, w_in};
    wire [23:0] qy = (ys + pt_s) / sy_s;
    wire [23:0] qx = (xs + pl_s) / sx_s;
    wire signed [23:0] oyh = ($signed(qy) >= oh_s) ? oh_s - 24'sd1 : $signed(qy);
    wire signed [23:0] oxh = ($signed(qx) >= ow_s) ? ow_s - 24'sd1 : $signed(qx);

    wire               vy [0:2], fy [0:2], cy [0:2];
    wire               vx [0:2], fx [0:2], cx [0:2];
    wire signed [23:0] oyc [0:2], oxc [0:2];
    genvar g;
    generate
        for (g = 0; g < 3; g = g + 1) begin : cnd
            localparam signed [23:0] DG = g;
            assign oyc[g] = oyh - DG;
            assign oxc[g] = oxh - DG;
            assign {vy[g], fy[g], cy[g]} = cand(oyh - DG, sy_s, pt_s, kh_s, ys, h_s);
            assign {vx[g], fx[g], cx[g]} = cand(oxh - DG, sx_s, pl_s, kw_s, xs, w_s);
        end
    endgenerate

    // running maxima and the emission queue
    reg [C*8-1:0]  va [0:4*OW_MAX-1];
    reg [ELW-1:0]  q  [0:QD-1];
    reg [3:0]      qh, qt;
    reg [4:0]      qn;
    wire           accept = in_valid && (qn <= 5'd7);
    wire           pop = (qn != 5'd0) && out_ready;
    assign in_ready  = (qn <= 5'd7);
    assign out_valid = (qn != 5'd0);
    assign out_data  = q[qh];

    integer a, bb, l, pushes;
    reg [3:0]           wp;
    reg [OWB+1:0]       addr;
    reg [C*8-1:0]       cur, nv;
    always @(posedge clk) begin
        if (rst) begin
            qh <= 4'd0;
            qt <= 4'd0;
            qn <= 5'd0;
        end else begin
            pushes = 0;
            wp = qt;
            if (accept) begin
                for (a = 2; a >= 0; a = a - 1) begin
                    for (bb = 2; bb >= 0; bb = bb - 1) begin
                        if (vy[a] && vx[bb]) begin
                            addr = {oyc[a][1:0], oxc[bb][OWB-1:0]};
                            cur = va[addr];
                            for (l = 0; l < C; l = l + 1)
                                nv[l*8 +: 8] = (fy[a] && fx[bb]) || ($signed(px[l*8 +: 8]) > $signed(cur[l*8 +: 8]))
                                               ? px[l*8 +: 8] : cur[l*8 +: 8];
                            va[addr] <= nv;
                            if (cy[a] && cx[bb]) begin
                                q[wp] <= {b, n, oyc[a][W_SBN-1:0], oxc[bb][W_SBN-1:0], nv};
                                wp = wp + 4'd1;
                                pushes = pushes + 1;
                            end
                        end
                    end
                end
            end
            qt <= wp;
            if (pop) qh <= qh + 4'd1;
            qn <= qn + pushes[4:0] - {4'd0, pop};
        end
    end
endmodule
