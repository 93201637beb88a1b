// Simulation wrapper of ovl_core for the cocotb testbench (not synthesizable): clock, a DDR model and the
// config-stream source. cocotb loads a test by writing hex files and pulsing `load_req` (file names come from
// plusargs +ddr=, +cfg=, +out=, +perf=), then pulses `start` and waits for `finished`; `dump_req` writes the DDR
// image and the per-bundle performance records back to files.
//
// DDR model: one read request per cycle (rd_ready = 1 unless stalled), in-order responses after
// DDR_LATENCY_CYCLES (Arch.ddr_latency_cycles), byte-enabled writes. The config-stream source plays the
// packets one per cycle; `pkt_stall` > 0 withholds a packet in pkt_stall of every 16 cycles (LFSR), `rd_stall`
// likewise for DDR read requests.
`timescale 1ns/1ps
`ifndef OVL_PARAMS_VH
`define OVL_PARAMS_VH "tiny_params.vh"
`endif
module tb_core;
`include `OVL_PARAMS_VH
    parameter integer DDR_WORDS = 65536;
    parameter integer MAX_PKTS = 16384;
    parameter integer MAX_PERF = 1024;
    localparam integer AW = 32 - $clog2(ENTRY_BYTES);
    localparam integer LAT = (DDR_LATENCY_CYCLES > 1) ? DDR_LATENCY_CYCLES : 1;

    reg clk = 1'b0;
    always #5 clk = ~clk;

    reg         rst = 1'b1;
    reg         start = 1'b0;
    reg         load_req = 1'b0;
    reg         dump_req = 1'b0;
    reg  [31:0] n_pkts = 32'd0;
    reg  [31:0] dump_words = 32'd0;
    reg  [31:0] load_words = 32'd0;
    reg  [3:0]  pkt_stall = 4'd0;
    reg  [3:0]  rd_stall = 4'd0;

    reg [ENTRY_BITS-1:0]  ddr  [0:DDR_WORDS-1];
    reg [PACKET_BITS-1:0] pkts [0:MAX_PKTS-1];
    reg [127:0]           perf [0:MAX_PERF-1];
    reg [31:0]            perf_count;
    reg [31:0]            cycles;
    reg [1023:0]          f_ddr, f_cfg, f_out, f_perf;
    integer               i;

    initial begin
        if (!$value$plusargs("ddr=%s", f_ddr)) f_ddr = "ddr.hex";
        if (!$value$plusargs("cfg=%s", f_cfg)) f_cfg = "cfg.hex";
        if (!$value$plusargs("out=%s", f_out)) f_out = "ddr_out.hex";
        if (!$value$plusargs("perf=%s", f_perf)) f_perf = "perf.hex";
    end

    always @(posedge load_req) begin
        for (i = 0; i < DDR_WORDS; i = i + 1) ddr[i] = {ENTRY_BITS{1'b0}};
        if (load_words != 0) $readmemh(f_ddr, ddr, 0, load_words - 1);
        if (n_pkts != 0) $readmemh(f_cfg, pkts, 0, n_pkts - 1);
    end
    always @(posedge dump_req) begin
        $writememh(f_out, ddr, 0, dump_words - 1);
        if (perf_count != 0) $writememh(f_perf, perf, 0, perf_count - 1);
    end

    // --- the core
    wire                    pkt_valid, pkt_ready, rd_valid, rd_ready, wr_valid;
    wire [PACKET_BITS-1:0]  pkt_data;
    wire [AW-1:0]           rd_addr, wr_addr;
    wire [ENTRY_BITS-1:0]   wr_data;
    wire [ENTRY_BYTES-1:0]  wr_be;
    reg                     rd_resp_valid;
    reg  [ENTRY_BITS-1:0]   rd_resp_data;
    wire                    busy, done, error, perf_valid;
    wire [7:0]              error_code;
    wire [23:0]             perf_seq;
    wire [31:0]             perf_load, perf_compute, perf_total;
    wire                    finished = done | error;

    ovl_core dut (
        .clk(clk), .rst(rst), .start(start),
        .pkt_valid(pkt_valid), .pkt_data(pkt_data), .pkt_ready(pkt_ready),
        .rd_valid(rd_valid), .rd_addr(rd_addr), .rd_ready(rd_ready), .rd_resp_valid(rd_resp_valid),
        .rd_resp_data(rd_resp_data),
        .wr_valid(wr_valid), .wr_addr(wr_addr), .wr_data(wr_data), .wr_be(wr_be), .wr_ready(1'b1),
        .busy(busy), .done(done), .error(error), .error_code(error_code),
        .perf_valid(perf_valid), .perf_seq(perf_seq), .perf_load(perf_load), .perf_compute(perf_compute),
        .perf_total(perf_total));

    // --- LFSR for optional stalls
    reg [15:0] lfsr = 16'hACE1;
    always @(posedge clk) lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};

    // --- config-stream source
    reg [31:0] pidx;
    assign pkt_valid = (pidx < n_pkts) && (lfsr[3:0] >= pkt_stall);
    assign pkt_data  = pkts[pidx[13:0]];
    always @(posedge clk) begin
        if (rst) pidx <= 32'd0;
        else if (pkt_valid && pkt_ready) pidx <= pidx + 32'd1;
    end

    // --- DDR: fixed-latency pipelined reads, byte-enabled writes
    assign rd_ready = (lfsr[7:4] >= rd_stall);
    reg [LAT-1:0]    pv;
    reg [LAT*AW-1:0] pa;
    wire [AW-1:0]    pa_out = pa[(LAT-1)*AW +: AW];
    always @(posedge clk) begin
        pv <= {pv[LAT-2:0], rd_valid && rd_ready && !rst};
        pa <= {pa[(LAT-1)*AW-1:0], rd_addr};
        rd_resp_valid <= pv[LAT-1];
        if (pv[LAT-1]) rd_resp_data <= ddr[pa_out[15:0]];
        if (wr_valid)
            for (i = 0; i < ENTRY_BYTES; i = i + 1)
                if (wr_be[i]) ddr[wr_addr[15:0]][i*8 +: 8] <= wr_data[i*8 +: 8];
    end

    // --- performance records {seq, load, compute, total} and a cycle counter
    always @(posedge clk) begin
        if (rst) begin
            perf_count <= 32'd0;
            cycles <= 32'd0;
        end else begin
            cycles <= cycles + 32'd1;
            if (perf_valid) begin
                perf[perf_count[9:0]] <= {8'd0, perf_seq, perf_load, perf_compute, perf_total};
                perf_count <= perf_count + 32'd1;
            end
        end
    end
endmodule
