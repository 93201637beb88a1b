// Window walker and PE-array sequencer of a convolution bundle (the `sbuf` and `pe` kernels' control).
//
// Work: every (pass j, image n, output row oy, output column ox) is one *item*; pass j computes filters
// j*K .. j*K+K-1 (one per PE). Items are taken THREADS at a time (a *group*: the interleaved accumulations,
// docs/rtl.md). For each group the walker steps through the filter entries e = (channel block, ky, kx) in the
// order of the cached filter (docs/isa.md section 4) and, for each entry, issues one slot per thread:
//     feature entry  SB[sb + ((n*cb + cb0 + cbk)*rows + iy)*width + ix],  iy = oy*sy - pt + ky*dy,
//                                                                           ix = ox*sx - pl + kx*dx
//                    (zero when (iy, ix) lies in the padding),
//     filter entry   cache[bank*FC_HALF + j*entries + e] of every PE, bias cache[bank*BIAS_HALF + j].
// A group therefore takes entries * THREADS cycles and its THREADS results leave the PEs together after the last
// entry; groups run back to back, so a bundle of P positions and `passes` passes takes
// ceil(passes*P / THREADS) * THREADS * entries cycles. Items of consecutive passes share a group when P is not
// a multiple of THREADS (each thread carries its own pass index and filter address).
//
// Results go to the exit FIFO; a group starts only when the FIFO has room for all its results (`credit`,
// one `take` per item assigned); otherwise the walker issues a bubble group (THREADS empty slots), which keeps
// the accumulator's thread rotation aligned.
module ovl_conv_ctrl #(
    parameter integer K = 4,
    parameter integer THREADS = 4,
    parameter integer W_SBN = 13,
    parameter integer W_KT = 11,
    parameter integer W_KS = 9,
    parameter integer W_FCN = 9,
    parameter integer SB_AW = 12,
    parameter integer FC_AW = 8,
    parameter integer B_AW = 6,
    parameter integer FC_HALF = 128,
    parameter integer BIAS_HALF = 32,
    parameter integer CREDIT_W = 16
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire                      start,
    // bundle configuration (stable while busy)
    input  wire [SB_AW-1:0]          sb,
    input  wire [W_SBN-1:0]          n_img,
    input  wire [W_SBN-1:0]          cb,
    input  wire [W_SBN-1:0]          rows,
    input  wire [W_SBN-1:0]          width,
    input  wire [W_SBN-1:0]          oh,
    input  wire [W_SBN-1:0]          ow,
    input  wire [W_KS-1:0]           kh,
    input  wire [W_KS-1:0]           kw,
    input  wire [W_KS-1:0]           pt,
    input  wire [W_KS-1:0]           pl,
    input  wire [3:0]                sy,
    input  wire [3:0]                sx,
    input  wire [3:0]                dy,
    input  wire [3:0]                dx,
    input  wire [W_KT-1:0]           k,
    input  wire                      bank,
    input  wire [W_SBN-1:0]          cb0,
    input  wire [W_FCN-1:0]          entries,
    // exit-FIFO credit
    input  wire [CREDIT_W-1:0]       credit,
    output wire                      take,
    // slot (registered)
    output reg                       s_valid,
    output reg                       s_first,
    output reg                       s_last,
    output reg                       s_pad,
    output reg  [SB_AW-1:0]          s_sb_addr,
    output reg  [FC_AW-1:0]          s_fc_addr,
    output reg  [B_AW-1:0]           s_b_addr,
    output reg  [W_KT+3*W_SBN-1:0]   s_tag,
    output reg                       busy
);
    localparam integer TW = (THREADS > 1) ? $clog2(THREADS) : 1;
    localparam integer THREADS_M1 = THREADS - 1;
    localparam [TW-1:0] TLAST = THREADS_M1[TW-1:0];
    localparam [CREDIT_W-1:0] TNEED = THREADS[CREDIT_W-1:0];
    localparam [W_KT-1:0] KV = K[W_KT-1:0];

    // --- entry counters (shared by all threads of a group)
    reg [TW-1:0]         t;
    reg [W_FCN-1:0]      e;
    reg [W_KS-1:0]       ky, kx;
    reg signed [23:0]    kyd, kxd;        // ky*dy, kx*dx
    reg [23:0]           cbkr;            // cbk*rows
    reg                  grp_real;

    // --- item iterator (the next item to assign)
    reg [W_KT-1:0]       passes;
    reg [23:0]           cbrows;          // cb*rows
    reg [W_KT-1:0]       it_j;
    reg [W_SBN-1:0]      it_n, it_oy, it_ox;
    reg signed [23:0]    it_iy0, it_ix0;  // oy*sy - pt, ox*sx - pl
    reg [23:0]           it_plane;        // (n*cb + cb0)*rows
    reg [FC_AW:0]        it_fbase;        // bank*FC_HALF + j*entries
    reg [B_AW:0]         it_bias;         // bank*BIAS_HALF + j
    reg                  it_done;

    // --- per-thread items
    reg                  th_v     [0:THREADS-1];
    reg [W_KT-1:0]       th_j     [0:THREADS-1];
    reg [W_SBN-1:0]      th_n     [0:THREADS-1];
    reg [W_SBN-1:0]      th_oy    [0:THREADS-1];
    reg [W_SBN-1:0]      th_ox    [0:THREADS-1];
    reg signed [23:0]    th_iy0   [0:THREADS-1];
    reg signed [23:0]    th_ix0   [0:THREADS-1];
    reg [23:0]           th_plane [0:THREADS-1];
    reg [FC_AW:0]        th_fbase [0:THREADS-1];
    reg [B_AW:0]         th_bias  [0:THREADS-1];

    wire gstart    = (t == {TW{1'b0}}) && (e == {W_FCN{1'b0}});
    wire finish    = busy && gstart && it_done;
    wire real_now  = gstart ? (!it_done && credit >= TNEED) : grp_real;
    wire first_e   = (e == {W_FCN{1'b0}});
    wire use_it    = busy && !finish && first_e && real_now && !it_done;
    assign take    = use_it;

    // the slot's item: the iterator during the first entry of a group, else the thread's stored item
    wire               c_v     = first_e ? use_it : (grp_real && th_v[t]);
    wire [W_KT-1:0]    c_j     = first_e ? it_j : th_j[t];
    wire [W_SBN-1:0]   c_n     = first_e ? it_n : th_n[t];
    wire [W_SBN-1:0]   c_oy    = first_e ? it_oy : th_oy[t];
    wire [W_SBN-1:0]   c_ox    = first_e ? it_ox : th_ox[t];
    wire signed [23:0] c_iy0   = first_e ? it_iy0 : th_iy0[t];
    wire signed [23:0] c_ix0   = first_e ? it_ix0 : th_ix0[t];
    wire [23:0]        c_plane = first_e ? it_plane : th_plane[t];
    wire [FC_AW:0]     c_fbase = first_e ? it_fbase : th_fbase[t];
    wire [B_AW:0]      c_bias  = first_e ? it_bias : th_bias[t];

    wire signed [23:0] iy  = c_iy0 + kyd;
    wire signed [23:0] ix  = c_ix0 + kxd;
    wire signed [23:0] rows_s  = {{(24-W_SBN){1'b0}}, rows};
    wire signed [23:0] width_s = {{(24-W_SBN){1'b0}}, width};
    wire pad = (iy < 0) || (iy >= rows_s) || (ix < 0) || (ix >= width_s);
    wire [23:0]        row  = c_plane + cbkr + iy[23:0];
    wire [31:0]        addr = {{(32-SB_AW){1'b0}}, sb} + row * {{(24-W_SBN){1'b0}}, width} + {{8{ix[23]}}, ix};
    wire [FC_AW:0]     fca  = c_fbase + {{(FC_AW+1-W_FCN){1'b0}}, e};

    wire last_t = (t == TLAST);
    wire last_e = (e == entries - 1'b1) || !real_now;
    wire it_last_ox = (it_ox == ow - 1'b1);
    wire it_last_oy = (it_oy == oh - 1'b1);
    wire it_last_n  = (it_n == n_img - 1'b1);
    wire it_last_j  = (it_j == passes - 1'b1);
    wire [23:0] plane0 = cb0 * rows;

    integer i;
    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            s_valid <= 1'b0;
        end else if (start) begin
            busy <= 1'b1;
            s_valid <= 1'b0;
            t <= {TW{1'b0}};
            e <= {W_FCN{1'b0}};
            ky <= {W_KS{1'b0}};
            kx <= {W_KS{1'b0}};
            kyd <= 24'sd0;
            kxd <= 24'sd0;
            cbkr <= 24'd0;
            grp_real <= 1'b0;
            passes <= (k + KV - 1'b1) / KV;
            cbrows <= cb * rows;
            it_j <= {W_KT{1'b0}};
            it_n <= {W_SBN{1'b0}};
            it_oy <= {W_SBN{1'b0}};
            it_ox <= {W_SBN{1'b0}};
            it_iy0 <= -$signed({15'd0, pt});
            it_ix0 <= -$signed({15'd0, pl});
            it_plane <= plane0;
            it_fbase <= bank ? FC_HALF[FC_AW:0] : {(FC_AW+1){1'b0}};
            it_bias <= bank ? BIAS_HALF[B_AW:0] : {(B_AW+1){1'b0}};
            it_done <= (k == {W_KT{1'b0}}) || (n_img == {W_SBN{1'b0}}) || (oh == {W_SBN{1'b0}})
                       || (ow == {W_SBN{1'b0}}) || (entries == {W_FCN{1'b0}});
            for (i = 0; i < THREADS; i = i + 1) th_v[i] <= 1'b0;
        end else if (busy) begin
            if (finish) begin
                busy <= 1'b0;
                s_valid <= 1'b0;
            end else begin
                // --- the slot
                s_valid <= c_v;
                s_first <= first_e;
                s_last <= (e == entries - 1'b1);
                s_pad <= pad;
                s_sb_addr <= addr[SB_AW-1:0];
                s_fc_addr <= fca[FC_AW-1:0];
                s_b_addr <= c_bias[B_AW-1:0];
                s_tag <= {c_j, c_n, c_oy, c_ox};
                grp_real <= real_now;
                // --- assign the iterator's item to this thread during a group's first entry
                if (first_e && real_now) begin
                    th_v[t] <= use_it;
                    th_j[t] <= it_j;
                    th_n[t] <= it_n;
                    th_oy[t] <= it_oy;
                    th_ox[t] <= it_ox;
                    th_iy0[t] <= it_iy0;
                    th_ix0[t] <= it_ix0;
                    th_plane[t] <= it_plane;
                    th_fbase[t] <= it_fbase;
                    th_bias[t] <= it_bias;
                end
                if (use_it) begin
                    if (!it_last_ox) begin
                        it_ox <= it_ox + 1'b1;
                        it_ix0 <= it_ix0 + $signed({20'd0, sx});
                    end else begin
                        it_ox <= {W_SBN{1'b0}};
                        it_ix0 <= -$signed({15'd0, pl});
                        if (!it_last_oy) begin
                            it_oy <= it_oy + 1'b1;
                            it_iy0 <= it_iy0 + $signed({20'd0, sy});
                        end else begin
                            it_oy <= {W_SBN{1'b0}};
                            it_iy0 <= -$signed({15'd0, pt});
                            if (!it_last_n) begin
                                it_n <= it_n + 1'b1;
                                it_plane <= it_plane + cbrows;
                            end else begin
                                it_n <= {W_SBN{1'b0}};
                                it_plane <= plane0;
                                it_j <= it_j + 1'b1;
                                it_fbase <= it_fbase + {{(FC_AW+1-W_FCN){1'b0}}, entries};
                                it_bias <= it_bias + 1'b1;
                                if (it_last_j) it_done <= 1'b1;
                            end
                        end
                    end
                end
                // --- thread / entry counters
                if (!last_t) begin
                    t <= t + 1'b1;
                end else begin
                    t <= {TW{1'b0}};
                    if (last_e) begin
                        e <= {W_FCN{1'b0}};
                        ky <= {W_KS{1'b0}};
                        kx <= {W_KS{1'b0}};
                        kyd <= 24'sd0;
                        kxd <= 24'sd0;
                        cbkr <= 24'd0;
                    end else begin
                        e <= e + 1'b1;
                        if (kx != kw - 1'b1) begin
                            kx <= kx + 1'b1;
                            kxd <= kxd + $signed({20'd0, dx});
                        end else begin
                            kx <= {W_KS{1'b0}};
                            kxd <= 24'sd0;
                            if (ky != kh - 1'b1) begin
                                ky <= ky + 1'b1;
                                kyd <= kyd + $signed({20'd0, dy});
                            end else begin
                                ky <= {W_KS{1'b0}};
                                kyd <= 24'sd0;
                                cbkr <= cbkr + {{(24-W_SBN){1'b0}}, rows};
                            end
                        end
                    end
                end
            end
        end else begin
            s_valid <= 1'b0;
        end
    end
endmodule
