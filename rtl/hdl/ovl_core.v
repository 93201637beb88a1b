// The overlay core: config network, per-kernel config registers, a bundle sequencer and the convolution engine
//     DDR -> feature reader -> stream buffer -> window walker -> PE array -> requantise -> exit FIFO
//         -> crossbar -> {activation, max pool} in crossbar order -> feature writer -> DDR / stream buffer
//     DDR -> filter reader -> filter and bias caches -> PE array
// programmed by the config packets the compiler emits (docs/isa.md). Bundles run one after the other: config
// (the cfg kernel's words name the active kernels; each active kernel takes exactly one config from its FIFO),
// feature reads, filter load, then the streaming compute phase. Packets of later bundles keep arriving during a
// bundle and wait in the kernels' config FIFOs (back-pressure stalls the packet input when a FIFO is full).
//
// Outside the engine's scope (error_code, see docs/rtl.md): depthwise / bypass / Winograd PE modes, partial
// sums (psum_in / psum_out, raw reads and writes), grouped convolution, look-up-table activations, average
// pooling, the LRN / eltwise / depth-to-space / softmax kernels and masked writes with c_first != 0.
`ifndef OVL_PARAMS_VH
`define OVL_PARAMS_VH "tiny_params.vh"
`endif
module ovl_core (
    clk, rst, start,
    pkt_valid, pkt_data, pkt_ready,
    rd_valid, rd_addr, rd_ready, rd_resp_valid, rd_resp_data,
    wr_valid, wr_addr, wr_data, wr_be, wr_ready,
    busy, done, error, error_code,
    perf_valid, perf_seq, perf_load, perf_compute, perf_total
);
`include `OVL_PARAMS_VH
    parameter integer POOL_OW_MAX = 64;       // widest pooling output row the pool's row buffer holds
    parameter integer OUTSTANDING = 32;       // DDR reads in flight per reader

    localparam integer AW = 32 - $clog2(ENTRY_BYTES);  // DDR word address
    localparam integer C = C_VECTOR;
    localparam integer K = K_VECTOR;
    localparam integer CWB = MAX_WORDS * PAYLOAD_BITS;
    localparam integer TAGW = W_KT + 3 * W_SBN;
    localparam integer ELW = TAGW + C * 8;
    localparam integer SB_AW = $clog2(SB_DEPTH);
    localparam integer FC_AW = $clog2(FC_DEPTH);
    localparam integer B_AW = $clog2(BIAS_DEPTH);
    localparam integer LOGC = (C > 1) ? $clog2(C) : 0;
    localparam integer PE_LAT = 4 + LOGC;      // ovl_pe_array: slot in -> result out
    localparam integer EXW = $clog2(EXIT_FIFO_DEPTH + 1);
    localparam integer CREDIT_W = 16;

    input  wire                     clk;
    input  wire                     rst;
    input  wire                     start;
    input  wire                     pkt_valid;
    input  wire [PACKET_BITS-1:0]   pkt_data;
    output wire                     pkt_ready;
    output wire                     rd_valid;
    output wire [AW-1:0]            rd_addr;
    input  wire                     rd_ready;
    input  wire                     rd_resp_valid;
    input  wire [ENTRY_BITS-1:0]    rd_resp_data;
    output wire                     wr_valid;
    output wire [AW-1:0]            wr_addr;
    output wire [ENTRY_BITS-1:0]    wr_data;
    output wire [ENTRY_BYTES-1:0]   wr_be;
    input  wire                     wr_ready;
    output reg                      busy;
    output reg                      done;
    output reg                      error;
    output reg  [7:0]               error_code;
    output reg                      perf_valid;
    output reg  [23:0]              perf_seq;
    output reg  [31:0]              perf_load;
    output reg  [31:0]              perf_compute;
    output reg  [31:0]              perf_total;

    // error codes (docs/rtl.md)
    localparam [7:0] E_BAD_ID = 8'd1, E_WORD_INDEX = 8'd2, E_PE_MODE = 8'd3, E_PSUM = 8'd4, E_GROUPS = 8'd5,
                     E_ACT_LUT = 8'd6, E_POOL = 8'd7, E_XBAR = 8'd8, E_AUX = 8'd9, E_WRITER = 8'd10,
                     E_FILTERS = 8'd11, E_CAPACITY = 8'd12;

    // ------------------------------------------------------------------------------------------------------------
    // config network and config registers
    wire [N_MODULES-1:0]                      fifo_v, fifo_r;
    wire [N_MODULES*(PAYLOAD_BITS+10)-1:0]    fifo_d;
    wire                                      bad_id;
    ovl_cfg_chain #(.N_MOD(N_MODULES), .PACKET(PACKET_BITS), .PAYLOAD(PAYLOAD_BITS), .FIFO_DEPTH(CFG_FIFO_DEPTH))
        chain (.clk(clk), .rst(rst), .in_valid(pkt_valid), .in_data(pkt_data), .in_ready(pkt_ready),
               .cfg_valid(fifo_v), .cfg_data(fifo_d), .cfg_ready(fifo_r), .bad_id(bad_id));

    wire [N_MODULES-1:0]       load;
    wire [N_MODULES-1:0]       cfg_ok, bad_index;
    wire [N_MODULES*CWB-1:0]   cfg_all;
    genvar m;
    generate
        for (m = 0; m < N_MODULES; m = m + 1) begin : regs
            ovl_cfg_regs #(.PAYLOAD(PAYLOAD_BITS), .WORDS(ovl_module_words(m)), .OUT_WORDS(MAX_WORDS)) u (
                .clk(clk), .rst(rst), .load(load[m]),
                .fifo_valid(fifo_v[m]), .fifo_data(fifo_d[m*(PAYLOAD_BITS+10) +: PAYLOAD_BITS+10]),
                .fifo_ready(fifo_r[m]), .valid(cfg_ok[m]), .cfg(cfg_all[m*CWB +: CWB]), .bad_index(bad_index[m]));
        end
    endgenerate

    wire [CWB-1:0] c_cfg  = cfg_all[MOD_CFG*CWB +: CWB];
    wire [CWB-1:0] c_fr   = cfg_all[MOD_FREAD*CWB +: CWB];
    wire [CWB-1:0] c_wr   = cfg_all[MOD_WREAD*CWB +: CWB];
    wire [CWB-1:0] c_sb   = cfg_all[MOD_SBUF*CWB +: CWB];
    wire [CWB-1:0] c_pe   = cfg_all[MOD_PE*CWB +: CWB];
    wire [CWB-1:0] c_xb   = cfg_all[MOD_XBAR*CWB +: CWB];
    wire [CWB-1:0] c_act  = cfg_all[MOD_ACT*CWB +: CWB];
    wire [CWB-1:0] c_pool = cfg_all[MOD_POOL*CWB +: CWB];
    wire [CWB-1:0] c_fw   = cfg_all[MOD_FWRITE*CWB +: CWB];

    // --- fields (positions from the generated header)
    wire [23:0]          cfg_seq    = c_cfg[F_CFG_SEQ_LSB +: 24];
    wire [N_MODULES-1:0] cfg_active = c_cfg[F_CFG_ACTIVE_LSB +: N_MODULES];
    wire                 cfg_last   = c_cfg[F_CFG_LAST_LSB];

    wire                 r0_en = c_fr[F_FREAD_R0_EN_LSB], r1_en = c_fr[F_FREAD_R1_EN_LSB];
    wire                 r0_raw = c_fr[F_FREAD_R0_RAW_LSB], r1_raw = c_fr[F_FREAD_R1_RAW_LSB];

    wire                 w_en      = c_wr[F_WREAD_EN_LSB];
    wire                 w_bank    = c_wr[F_WREAD_BANK_LSB];
    wire [31:0]          w_ddr     = c_wr[F_WREAD_DDR_LSB +: 32];
    wire [W_KT-1:0]      w_filters = c_wr[F_WREAD_FILTERS_LSB +: W_KT];
    wire [W_FCN-1:0]     w_entries = c_wr[F_WREAD_ENTRIES_LSB +: W_FCN];
    wire [W_KT-1:0]      w_nbias   = c_wr[F_WREAD_NBIAS_LSB +: W_KT];

    wire [W_SB-1:0]      g_sb   = c_sb[F_SBUF_SB_LSB +: W_SB];
    wire [W_SBN-1:0]     g_n    = c_sb[F_SBUF_N_LSB +: W_SBN];
    wire [W_SBN-1:0]     g_cb   = c_sb[F_SBUF_CB_LSB +: W_SBN];
    wire [15:0]          g_cf   = c_sb[F_SBUF_C_FIRST_LSB +: 16];
    wire [W_SBN-1:0]     g_rows = c_sb[F_SBUF_ROWS_LSB +: W_SBN];
    wire [W_SBN-1:0]     g_wid  = c_sb[F_SBUF_WIDTH_LSB +: W_SBN];
    wire [W_KS-1:0]      g_kh   = c_sb[F_SBUF_KH_LSB +: W_KS];
    wire [W_KS-1:0]      g_kw   = c_sb[F_SBUF_KW_LSB +: W_KS];
    wire [3:0]           g_sy   = c_sb[F_SBUF_SY_LSB +: 4];
    wire [3:0]           g_sx   = c_sb[F_SBUF_SX_LSB +: 4];
    wire [3:0]           g_dy   = c_sb[F_SBUF_DY_LSB +: 4];
    wire [3:0]           g_dx   = c_sb[F_SBUF_DX_LSB +: 4];
    wire [W_KS-1:0]      g_pt   = c_sb[F_SBUF_PT_LSB +: W_KS];
    wire [W_KS-1:0]      g_pl   = c_sb[F_SBUF_PL_LSB +: W_KS];
    wire [W_SBN-1:0]     g_oh   = c_sb[F_SBUF_OH_LSB +: W_SBN];
    wire [W_SBN-1:0]     g_ow   = c_sb[F_SBUF_OW_LSB +: W_SBN];

    wire [1:0]           p_mode  = c_pe[F_PE_MODE_LSB +: 2];
    wire                 p_wino  = c_pe[F_PE_WINO_LSB];
    wire                 p_bank  = c_pe[F_PE_BANK_LSB];
    wire                 p_bias  = c_pe[F_PE_BIAS_LSB];
    wire [W_KT-1:0]      p_k     = c_pe[F_PE_K_LSB +: W_KT];
    wire [15:0]          p_kf    = c_pe[F_PE_K_FIRST_LSB +: 16];
    wire [16:0]          p_kpg   = c_pe[F_PE_K_PER_GROUP_LSB +: 17];
    wire [15:0]          p_coff  = c_pe[F_PE_C_OFFSET_LSB +: 16];
    wire [16:0]          p_ccnt  = c_pe[F_PE_C_COUNT_LSB +: 17];
    wire                 p_pin   = c_pe[F_PE_PSUM_IN_LSB];
    wire                 p_pout  = c_pe[F_PE_PSUM_OUT_LSB];
    wire [15:0]          p_mult  = c_pe[F_PE_RQ_MULT_LSB +: 16];
    wire [5:0]           p_shift = c_pe[F_PE_RQ_SHIFT_LSB +: 6];

    wire [2:0]           x_s0 = c_xb[F_XBAR_S0_LSB +: 3];
    wire [2:0]           x_s1 = c_xb[F_XBAR_S1_LSB +: 3];
    wire [2:0]           x_s2 = c_xb[F_XBAR_S2_LSB +: 3];

    wire                 a_lut = c_act[F_ACT_LUT_LSB];
    wire [7:0]           a_lo  = c_act[F_ACT_LO_LSB +: 8];
    wire [7:0]           a_hi  = c_act[F_ACT_HI_LSB +: 8];

    wire                 o_type = c_pool[F_POOL_TYPE_LSB];
    wire [W_PW-1:0]      o_kh = c_pool[F_POOL_KH_LSB +: W_PW];
    wire [W_PW-1:0]      o_kw = c_pool[F_POOL_KW_LSB +: W_PW];
    wire [3:0]           o_sy = c_pool[F_POOL_SY_LSB +: 4];
    wire [3:0]           o_sx = c_pool[F_POOL_SX_LSB +: 4];
    wire [W_PW-1:0]      o_pt = c_pool[F_POOL_PT_LSB +: W_PW];
    wire [W_PW-1:0]      o_pl = c_pool[F_POOL_PL_LSB +: W_PW];
    wire [W_SBN-1:0]     o_oh = c_pool[F_POOL_OH_LSB +: W_SBN];
    wire [W_SBN-1:0]     o_ow = c_pool[F_POOL_OW_LSB +: W_SBN];

    wire                 f_ddr_en = c_fw[F_FWRITE_DDR_EN_LSB];
    wire                 f_raw    = c_fw[F_FWRITE_RAW_LSB];
    wire [31:0]          f_ddr    = c_fw[F_FWRITE_DDR_LSB +: 32];
    wire [31:0]          f_pn     = c_fw[F_FWRITE_PN_LSB +: 32];
    wire [31:0]          f_pc     = c_fw[F_FWRITE_PC_LSB +: 32];
    wire [31:0]          f_py     = c_fw[F_FWRITE_PY_LSB +: 32];
    wire [W_SBN-1:0]     f_n      = c_fw[F_FWRITE_N_LSB +: W_SBN];
    wire [16:0]          f_c      = c_fw[F_FWRITE_C_LSB +: 17];
    wire [W_CVB-1:0]     f_cf     = c_fw[F_FWRITE_C_FIRST_LSB +: W_CVB];
    wire                 f_zfill  = c_fw[F_FWRITE_ZFILL_LSB];
    wire [W_SBN-1:0]     f_rows   = c_fw[F_FWRITE_ROWS_LSB +: W_SBN];
    wire [W_SBN-1:0]     f_wid    = c_fw[F_FWRITE_WIDTH_LSB +: W_SBN];
    wire                 f_sb_en  = c_fw[F_FWRITE_SB_EN_LSB];
    wire [W_SB-1:0]      f_sb     = c_fw[F_FWRITE_SB_LSB +: W_SB];

    // ------------------------------------------------------------------------------------------------------------
    // sequencer
    localparam [3:0] S_IDLE = 4'd0, S_CFG = 4'd1, S_CFGW = 4'd2, S_LOAD = 4'd3, S_LOADW = 4'd4, S_CHECK = 4'd5,
                     S_FREAD = 4'd6, S_FREADW = 4'd7, S_WREAD = 4'd8, S_WREADW = 4'd9, S_COMP = 4'd10,
                     S_COMPW = 4'd11, S_DONE = 4'd12, S_FIN = 4'd13, S_ERR = 4'd14;
    reg [3:0]            state;
    reg [N_MODULES-1:0]  active;
    reg [31:0]           cyc, t_bundle, t_comp;
    reg [31:0]           t_slot, t_write;  // the bundle's first PE-array slot and its last write (perf_compute)
    reg                  slot_seen, write_seen;
    reg                  bank_loaded [0:1];
    reg [W_FCN-1:0]      bank_entries [0:1];
    reg [W_KT-1:0]       bank_filters [0:1];
    reg [W_KT-1:0]       bank_nbias [0:1];
    reg [W_SBN-1:0]      cb0;
    reg [W_FCN-1:0]      entries;

    wire [N_MODULES-1:0] others = active & ~({{(N_MODULES-1){1'b0}}, 1'b1});
    assign load = (state == S_CFG) ? {{(N_MODULES-1){1'b0}}, 1'b1} : (state == S_LOAD) ? others
                                   : {N_MODULES{1'b0}};

    wire pe_on    = active[MOD_PE];
    wire fread_start = (state == S_FREAD) && active[MOD_FREAD];
    wire wread_start = (state == S_WREAD) && active[MOD_WREAD] && w_en;
    wire comp_start  = (state == S_COMP) && pe_on;

    // --- what this engine implements (checked once the bundle's configs are in)
    wire [31:0] cbf        = ({15'd0, p_ccnt} + C - 1) >> LOGC;                       // filter channel blocks
    wire [31:0] need_ent   = cbf * {{(32-W_KS){1'b0}}, g_kh} * {{(32-W_KS){1'b0}}, g_kw};
    wire [16:0] t0         = {1'b0, p_coff} - {1'b0, g_cf};                   // first tile channel of the filters
    wire [31:0] tile_ch    = {{(32-W_SBN){1'b0}}, g_cb} << LOGC;
    wire        dense      = ({1'b0, p_kf} + {{(17-W_KT){1'b0}}, p_k} <= p_kpg) && (p_coff >= g_cf)
                             && (t0[LOGC-1:0] == 0) && ({15'd0, t0} + {15'd0, p_ccnt} <= tile_ch);
    wire        xb_ok_code = (x_s0 == XBAR_END[2:0] || x_s0 == XBAR_ACT[2:0] || x_s0 == XBAR_POOL[2:0])
                             && (x_s1 == XBAR_END[2:0] || x_s1 == XBAR_ACT[2:0] || x_s1 == XBAR_POOL[2:0])
                             && (x_s2 == XBAR_END[2:0] || x_s1 == XBAR_END[2:0] || x_s0 == XBAR_END[2:0])
                             && !(x_s0 != XBAR_END[2:0] && x_s0 == x_s1);
    wire        uses_act   = (x_s0 == XBAR_ACT[2:0]) || (x_s0 != XBAR_END[2:0] && x_s1 == XBAR_ACT[2:0]);
    wire        uses_pool  = (x_s0 == XBAR_POOL[2:0]) || (x_s0 != XBAR_END[2:0] && x_s1 == XBAR_POOL[2:0]);
    wire [31:0] per_pe     = (({{(32-W_KT){1'b0}}, w_filters} + K - 1) / K) * {{(32-W_FCN){1'b0}}, w_entries};
    wire [31:0] bias_pe    = ({{(32-W_KT){1'b0}}, w_nbias} + K - 1) / K;
    // the filter-cache half the PE array reads: loaded by this bundle's filter reader or by an earlier one
    wire        same_bank  = active[MOD_WREAD] && w_en && (w_bank == p_bank);
    wire        eff_loaded = same_bank || bank_loaded[p_bank];
    wire [W_FCN-1:0] eff_entries = same_bank ? w_entries : bank_entries[p_bank];
    wire [W_KT-1:0]  eff_filters = same_bank ? w_filters : bank_filters[p_bank];
    wire [W_KT-1:0]  eff_nbias   = same_bank ? w_nbias : bank_nbias[p_bank];
    reg  [7:0]  check;
    always @(*) begin
        check = 8'd0;
        if (bad_id) check = E_BAD_ID;
        else if (|bad_index) check = E_WORD_INDEX;
        else if (active[MOD_LRN] || active[MOD_ELT] || active[MOD_D2S] || active[MOD_SMAX]) check = E_AUX;
        else if (active[MOD_FREAD] && ((r0_en && r0_raw) || (r1_en && r1_raw))) check = E_PSUM;
        else if (active[MOD_WREAD] && w_en && (per_pe > FC_HALF || bias_pe > BIAS_HALF)) check = E_CAPACITY;
        else if (pe_on) begin
            if (p_mode != PE_MODE_CONV[1:0] || p_wino) check = E_PE_MODE;
            else if (p_pin || p_pout || (active[MOD_FWRITE] && f_raw)) check = E_PSUM;
            else if (!dense) check = E_GROUPS;
            else if (!active[MOD_SBUF] || !active[MOD_FWRITE] || f_cf != 0) check = E_WRITER;
            else if (active[MOD_XBAR] && (!xb_ok_code || (uses_act && !active[MOD_ACT])
                                          || (uses_pool && !active[MOD_POOL]))) check = E_XBAR;
            else if (active[MOD_XBAR] && uses_act && a_lut) check = E_ACT_LUT;
            else if (active[MOD_XBAR] && uses_pool && (o_type != POOL_MAX[0] || {{(32-W_SBN){1'b0}}, o_ow} > POOL_OW_MAX))
                check = E_POOL;
            else if (!eff_loaded || {{(32-W_FCN){1'b0}}, eff_entries} != need_ent || eff_filters < p_k
                     || (p_bias && eff_nbias < p_k)) check = E_FILTERS;
        end
    end

    wire fread_busy, wread_busy, ctrl_busy, fw_done;
    wire s_valid, fw_sb_we;           // walker slot valid, writer's stream-buffer write (declared early: perf)

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            busy <= 1'b0;
            done <= 1'b0;
            error <= 1'b0;
            error_code <= 8'd0;
            perf_valid <= 1'b0;
            cyc <= 32'd0;
            active <= {N_MODULES{1'b0}};
            bank_loaded[0] <= 1'b0;
            bank_loaded[1] <= 1'b0;
        end else begin
            cyc <= cyc + 32'd1;
            perf_valid <= 1'b0;
            if (bad_id && state != S_ERR && state != S_IDLE) begin
                state <= S_ERR;
                error_code <= E_BAD_ID;
            end else begin
                case (state)
                    S_IDLE: if (start) begin
                        busy <= 1'b1;
                        done <= 1'b0;
                        state <= S_CFG;
                    end
                    S_CFG: begin
                        t_bundle <= cyc;
                        state <= S_CFGW;
                    end
                    S_CFGW: if (cfg_ok[MOD_CFG]) begin
                        active <= cfg_active | {{(N_MODULES-1){1'b0}}, 1'b1};
                        state <= S_LOAD;
                    end
                    S_LOAD: state <= S_LOADW;
                    S_LOADW: if ((cfg_ok & active) == active) state <= S_CHECK;
                    S_CHECK: begin
                        if (check != 8'd0) begin
                            error_code <= check;
                            state <= S_ERR;
                        end else begin
                            cb0 <= t0[LOGC +: W_SBN];
                            entries <= need_ent[W_FCN-1:0];
                            state <= S_FREAD;
                        end
                    end
                    S_FREAD: state <= active[MOD_FREAD] ? S_FREADW : S_WREAD;
                    S_FREADW: if (!fread_busy) state <= S_WREAD;
                    S_WREAD: begin
                        if (wread_start) begin
                            bank_loaded[w_bank] <= 1'b1;
                            bank_entries[w_bank] <= w_entries;
                            bank_filters[w_bank] <= w_filters;
                            bank_nbias[w_bank] <= w_nbias;
                            state <= S_WREADW;
                        end else begin
                            state <= S_COMP;
                        end
                    end
                    S_WREADW: if (!wread_busy) state <= S_COMP;
                    S_COMP: begin
                        t_comp <= cyc;
                        slot_seen <= 1'b0;
                        write_seen <= 1'b0;
                        state <= pe_on ? S_COMPW : S_DONE;
                    end
                    S_COMPW: begin
                        if (s_valid && !slot_seen) begin
                            t_slot <= cyc;
                            slot_seen <= 1'b1;
                        end
                        if ((wr_valid && wr_ready) || fw_sb_we) begin
                            t_write <= cyc;
                            write_seen <= 1'b1;
                        end
                        if (!ctrl_busy && fw_done) state <= S_DONE;
                    end
                    S_DONE: begin
                        perf_valid <= 1'b1;
                        perf_seq <= cfg_seq;
                        perf_load <= t_comp - t_bundle;
                        // compute phase: first slot issued to the PE array through the cycle of the last write
                        // (the model's start .. done); sequencer steps around it count as load time
                        perf_compute <= (slot_seen && write_seen) ? t_write - t_slot + 32'd1 : cyc - t_comp;
                        perf_total <= cyc - t_bundle;
                        if (cfg_last) begin
                            state <= S_FIN;
                            busy <= 1'b0;
                            done <= 1'b1;
                        end else begin
                            state <= S_CFG;
                        end
                    end
                    S_FIN: if (start) begin
                        busy <= 1'b1;
                        done <= 1'b0;
                        state <= S_CFG;
                    end
                    S_ERR: begin
                        error <= 1'b1;
                        busy <= 1'b0;
                    end
                    default: state <= S_ERR;
                endcase
            end
        end
    end

    // ------------------------------------------------------------------------------------------------------------
    // feature reader, filter reader and the DDR read port
    wire              fr_req_v, wr_req_v;
    wire [AW-1:0]     fr_req_a, wr_req_a;
    wire              fr_sb_we;
    wire [SB_AW-1:0]  fr_sb_a;
    wire [C*8-1:0]    fr_sb_d;
    wire              rd_to_wread = (state == S_WREADW);
    assign rd_valid = fr_req_v | wr_req_v;
    assign rd_addr  = wr_req_v ? wr_req_a : fr_req_a;

    ovl_fread #(.C(C), .W_SBN(W_SBN), .SB_AW(SB_AW), .AW(AW), .OUTSTANDING(OUTSTANDING)) fread (
        .clk(clk), .rst(rst), .start(fread_start), .en({r1_en, r0_en}),
        .ddr({c_fr[F_FREAD_R1_DDR_LSB +: 32], c_fr[F_FREAD_R0_DDR_LSB +: 32]}),
        .pn({c_fr[F_FREAD_R1_PN_LSB +: 32], c_fr[F_FREAD_R0_PN_LSB +: 32]}),
        .pc({c_fr[F_FREAD_R1_PC_LSB +: 32], c_fr[F_FREAD_R0_PC_LSB +: 32]}),
        .py({c_fr[F_FREAD_R1_PY_LSB +: 32], c_fr[F_FREAD_R0_PY_LSB +: 32]}),
        .n_img({c_fr[F_FREAD_R1_N_LSB +: W_SBN], c_fr[F_FREAD_R0_N_LSB +: W_SBN]}),
        .cb({c_fr[F_FREAD_R1_CB_LSB +: W_SBN], c_fr[F_FREAD_R0_CB_LSB +: W_SBN]}),
        .rows({c_fr[F_FREAD_R1_ROWS_LSB +: W_SBN], c_fr[F_FREAD_R0_ROWS_LSB +: W_SBN]}),
        .width({c_fr[F_FREAD_R1_WIDTH_LSB +: W_SBN], c_fr[F_FREAD_R0_WIDTH_LSB +: W_SBN]}),
        .sb({c_fr[F_FREAD_R1_SB_LSB +: W_SB], c_fr[F_FREAD_R0_SB_LSB +: W_SB]}),
        .req_valid(fr_req_v), .req_addr(fr_req_a), .req_ready(rd_ready),
        .resp_valid(rd_resp_valid && !rd_to_wread), .resp_data(rd_resp_data),
        .sb_we(fr_sb_we), .sb_addr(fr_sb_a), .sb_data(fr_sb_d), .busy(fread_busy));

    wire              fc_we, fc_bwe;
    wire [$clog2(K)-1:0] fc_pe;
    wire [FC_AW-1:0]  fc_wa;
    wire [C*8-1:0]    fc_wd;
    wire [B_AW-1:0]   fc_ba;
    wire [31:0]       fc_bd;
    ovl_wread #(.K(K), .C(C), .W_KT(W_KT), .W_FCN(W_FCN), .FC_AW(FC_AW), .B_AW(B_AW), .FC_HALF(FC_HALF),
                .BIAS_HALF(BIAS_HALF), .AW(AW), .OUTSTANDING(OUTSTANDING)) wread (
        .clk(clk), .rst(rst), .start(wread_start), .bank(w_bank), .ddr(w_ddr), .filters(w_filters),
        .entries(w_entries), .nbias(w_nbias),
        .req_valid(wr_req_v), .req_addr(wr_req_a), .req_ready(rd_ready),
        .resp_valid(rd_resp_valid && rd_to_wread), .resp_data(rd_resp_data),
        .we(fc_we), .bwe(fc_bwe), .w_pe(fc_pe), .w_addr(fc_wa), .w_data(fc_wd), .b_addr(fc_ba), .b_data(fc_bd),
        .busy(wread_busy));

    // ------------------------------------------------------------------------------------------------------------
    // stream buffer, filter caches, window walker, PE array
    wire [SB_AW-1:0]  fw_sb_a;
    wire [C*8-1:0]    fw_sb_d;
    wire [C-1:0]      fw_sb_be;
    wire [SB_AW-1:0]  s_sb_addr;
    wire [C*8-1:0]    sb_q;
    ovl_sb #(.C(C), .DEPTH(SB_DEPTH)) sbuf (
        .clk(clk), .we(fr_sb_we | fw_sb_we), .w_addr(fr_sb_we ? fr_sb_a : fw_sb_a),
        .w_data(fr_sb_we ? fr_sb_d : fw_sb_d), .w_be(fr_sb_we ? {C{1'b1}} : fw_sb_be),
        .r_addr(s_sb_addr), .r_data(sb_q));

    wire [FC_AW-1:0]  s_fc_addr;
    wire [B_AW-1:0]   s_b_addr;
    // the bias-cache read is issued BIAS_DELAY cycles after the slot so that the bias arrives when the slot
    // reaches the accumulators (ovl_pe_array samples init 3 + clog2(C) cycles after the slot's operands)
    localparam integer BIAS_DELAY = 3 + LOGC;
    reg  [BIAS_DELAY*B_AW-1:0] b_addr_d;
    always @(posedge clk) b_addr_d <= {b_addr_d[(BIAS_DELAY-1)*B_AW-1:0], s_b_addr};
    wire [B_AW-1:0] bias_raddr = b_addr_d[(BIAS_DELAY-1)*B_AW +: B_AW];
    wire [K*C*8-1:0]  fc_q;
    wire [K*32-1:0]   bias_q;
    ovl_filter_cache #(.K(K), .C(C), .DEPTH(FC_DEPTH), .BDEPTH(BIAS_DEPTH)) fcache (
        .clk(clk), .we(fc_we), .w_pe(fc_pe), .w_addr(fc_wa), .w_data(fc_wd), .bwe(fc_bwe), .b_addr_w(fc_ba),
        .b_data(fc_bd), .r_addr(s_fc_addr), .rb_addr(bias_raddr), .r_data(fc_q), .rb_data(bias_q));

    reg  [CREDIT_W-1:0] credit;
    wire                take;
    wire                s_first, s_last, s_pad;
    wire [TAGW-1:0]     s_tag;
    ovl_conv_ctrl #(.K(K), .THREADS(ACC_THREADS), .W_SBN(W_SBN), .W_KT(W_KT), .W_KS(W_KS), .W_FCN(W_FCN),
                    .SB_AW(SB_AW), .FC_AW(FC_AW), .B_AW(B_AW), .FC_HALF(FC_HALF), .BIAS_HALF(BIAS_HALF),
                    .CREDIT_W(CREDIT_W)) walker (
        .clk(clk), .rst(rst), .start(comp_start), .sb(g_sb), .n_img(g_n), .cb(g_cb), .rows(g_rows),
        .width(g_wid), .oh(g_oh), .ow(g_ow), .kh(g_kh), .kw(g_kw), .pt(g_pt), .pl(g_pl), .sy(g_sy), .sx(g_sx),
        .dy(g_dy), .dx(g_dx), .k(p_k), .bank(p_bank), .cb0(cb0), .entries(entries), .credit(credit), .take(take),
        .s_valid(s_valid), .s_first(s_first), .s_last(s_last), .s_pad(s_pad), .s_sb_addr(s_sb_addr),
        .s_fc_addr(s_fc_addr), .s_b_addr(s_b_addr), .s_tag(s_tag), .busy(ctrl_busy));

    // memory read stage: align the slot with the RAM outputs
    reg             m_valid, m_first, m_last, m_pad;
    always @(posedge clk) begin
        m_valid <= s_valid;
        m_first <= s_first;
        m_last  <= s_last;
        m_pad   <= s_pad;
    end
    wire [C*8-1:0]  x_in = m_pad ? {C*8{1'b0}} : sb_q;
    wire [K*32-1:0] init = p_bias ? bias_q : {K*32{1'b0}};

    wire            pe_valid;
    wire [K*32-1:0] pe_acc;
    ovl_pe_array #(.K(K), .C(C), .THREADS(ACC_THREADS)) pes (
        .clk(clk), .in_valid(m_valid), .in_first(m_first), .in_last(m_last), .x(x_in), .w(fc_q), .init(init),
        .out_valid(pe_valid), .out_acc(pe_acc));

    // slot tags delayed to the PE results
    reg [(PE_LAT+1)*TAGW-1:0] tag_d;           // tag_d[i*TAGW +: TAGW]: the slot tag delayed by i + 1 cycles
    always @(posedge clk) tag_d <= {tag_d[PE_LAT*TAGW-1:0], s_tag};
    wire [TAGW-1:0] pe_tag = tag_d[PE_LAT*TAGW +: TAGW];

    wire            rq_valid;
    wire [K*8-1:0]  rq_q;
    wire [TAGW-1:0] rq_tag;
    ovl_requant #(.K(K), .TAGW(TAGW), .W_KT(W_KT)) requant (
        .clk(clk), .rst(rst), .in_valid(pe_valid), .acc(pe_acc), .tag(pe_tag), .mult(p_mult),
        .shift(p_shift), .k(p_k), .out_valid(rq_valid), .q(rq_q), .out_tag(rq_tag));

    // exit FIFO (credit-managed: the walker reserves a slot per result before it starts a group)
    wire            ex_valid, ex_ready, ex_in_ready;
    wire [ELW-1:0]  ex_data;
    wire [EXW-1:0]  ex_count;
    ovl_fifo #(.W(ELW), .DEPTH(EXIT_FIFO_DEPTH)) exitq (
        .clk(clk), .rst(rst), .in_valid(rq_valid), .in_data({rq_tag, rq_q[C*8-1:0]}), .in_ready(ex_in_ready),
        .out_valid(ex_valid), .out_data(ex_data), .out_ready(ex_ready), .count(ex_count));
    wire ex_pop = ex_valid && ex_ready;
    localparam [CREDIT_W-1:0] EXIT_CREDITS = EXIT_FIFO_DEPTH[CREDIT_W-1:0];
    always @(posedge clk) begin
        if (rst || comp_start) credit <= EXIT_CREDITS;
        else credit <= credit - {{(CREDIT_W-1){1'b0}}, take} + {{(CREDIT_W-1){1'b0}}, ex_pop};
    end

    // ------------------------------------------------------------------------------------------------------------
    // crossbar: the exit stream passes the aux kernels named by xbar.s0, s1 (act, pool; in either order)
    wire chain0 = active[MOD_XBAR] && (x_s0 != XBAR_END[2:0]);
    wire chain1 = chain0 && (x_s1 != XBAR_END[2:0]);
    wire act_after_pool = chain1 && x_s0 == XBAR_POOL[2:0];
    wire pool_after_act = chain1 && x_s0 == XBAR_ACT[2:0];
    wire act_last  = chain0 && ((!chain1 && x_s0 == XBAR_ACT[2:0]) || (chain1 && x_s1 == XBAR_ACT[2:0]));
    wire pool_last = chain0 && ((!chain1 && x_s0 == XBAR_POOL[2:0]) || (chain1 && x_s1 == XBAR_POOL[2:0]));

    wire           act_iv, act_ir, act_ov, act_or;
    wire [ELW-1:0] act_id, act_od;
    wire           pool_iv, pool_ir, pool_ov, pool_or;
    wire [ELW-1:0] pool_id, pool_od;
    wire           fw_iv, fw_ir;
    wire [ELW-1:0] fw_id;

    assign act_iv  = chain0 && uses_act && (act_after_pool ? pool_ov : ex_valid);
    // unused kernels see a constant input (no switching)
    assign act_id  = !(chain0 && uses_act) ? {ELW{1'b0}} : act_after_pool ? pool_od : ex_data;
    assign pool_iv = chain0 && uses_pool && (pool_after_act ? act_ov : ex_valid);
    assign pool_id = !(chain0 && uses_pool) ? {ELW{1'b0}} : pool_after_act ? act_od : ex_data;
    assign fw_iv   = !chain0 ? ex_valid : act_last ? act_ov : pool_ov;
    assign fw_id   = !chain0 ? ex_data : act_last ? act_od : pool_od;
    assign ex_ready = !chain0 ? fw_ir : (x_s0 == XBAR_ACT[2:0]) ? act_ir : pool_ir;
    assign act_or  = act_last ? fw_ir : pool_ir;
    assign pool_or = pool_last ? fw_ir : act_ir;

    ovl_act #(.C(C), .TAGW(TAGW)) act (
        .clk(clk), .rst(rst), .lo(a_lo), .hi(a_hi), .in_valid(act_iv), .in_data(act_id), .in_ready(act_ir),
        .out_valid(act_ov), .out_data(act_od), .out_ready(act_or));

    ovl_pool #(.C(C), .W_SBN(W_SBN), .W_KT(W_KT), .W_PW(W_PW), .OW_MAX(POOL_OW_MAX)) pool (
        .clk(clk), .rst(rst), .kh(o_kh), .kw(o_kw), .pt(o_pt), .pl(o_pl), .sy(o_sy), .sx(o_sx), .ohp(o_oh),
        .owp(o_ow), .h_in(g_oh), .w_in(g_ow), .in_valid(pool_iv), .in_data(pool_id), .in_ready(pool_ir),
        .out_valid(pool_ov), .out_data(pool_od), .out_ready(pool_or));

    ovl_fwrite #(.C(C), .W_SBN(W_SBN), .W_KT(W_KT), .SB_AW(SB_AW), .AW(AW)) fwrite (
        .clk(clk), .rst(rst), .start(comp_start), .ddr_en(f_ddr_en), .sb_en(f_sb_en), .zfill(f_zfill),
        .ddr(f_ddr), .pn(f_pn), .pc(f_pc), .py(f_py), .n_img(f_n), .c(f_c), .rows(f_rows), .width(f_wid),
        .sb(f_sb), .in_valid(fw_iv), .in_data(fw_id), .in_ready(fw_ir),
        .wr_valid(wr_valid), .wr_addr(wr_addr), .wr_data(wr_data), .wr_be(wr_be), .wr_ready(wr_ready),
        .sb_we(fw_sb_we), .sb_addr(fw_sb_a), .sb_data(fw_sb_d), .sb_be(fw_sb_be), .done(fw_done));
endmodule
