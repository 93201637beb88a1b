// A kernel's config registers: on `load` they are cleared (docs/isa.md: words not sent are zero) and then filled
// from the kernel's config FIFO, one word per cycle at its word index, until the word flagged `last`. `valid`
// then holds until the next `load`. A word index beyond the module's words raises `bad_index` (sticky).
module ovl_cfg_regs #(
    parameter integer PAYLOAD = 32,
    parameter integer WORDS = 4,
    parameter integer OUT_WORDS = 15
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          load,
    input  wire                          fifo_valid,
    input  wire [PAYLOAD+9:0]            fifo_data,
    output wire                          fifo_ready,
    output reg                           valid,
    output wire [OUT_WORDS*PAYLOAD-1:0]  cfg,
    output reg                           bad_index
);
    reg [PAYLOAD-1:0] w [0:WORDS-1];
    reg               filling;
    wire [7:0]        idx  = fifo_data[PAYLOAD+2 +: 8];
    wire              last = fifo_data[PAYLOAD];
    localparam [7:0]  NW = WORDS[7:0];

    assign fifo_ready = filling;

    genvar i;
    generate
        for (i = 0; i < OUT_WORDS; i = i + 1) begin : out
            if (i < WORDS) begin : used
                assign cfg[i*PAYLOAD +: PAYLOAD] = w[i];
            end else begin : unused
                assign cfg[i*PAYLOAD +: PAYLOAD] = {PAYLOAD{1'b0}};
            end
        end
    endgenerate

    integer j;
    always @(posedge clk) begin
        if (rst) begin
            valid <= 1'b0;
            filling <= 1'b0;
            bad_index <= 1'b0;
            for (j = 0; j < WORDS; j = j + 1) w[j] <= {PAYLOAD{1'b0}};
        end else if (load) begin
            valid <= 1'b0;
            filling <= 1'b1;
            for (j = 0; j < WORDS; j = j + 1) w[j] <= {PAYLOAD{1'b0}};
        end else if (filling && fifo_valid) begin
            if (idx < NW) begin
                for (j = 0; j < WORDS; j = j + 1)
                    if (idx == j[7:0]) w[j] <= fifo_data[PAYLOAD-1:0];
            end else begin
                bad_index <= 1'b1;
            end
            if (last) begin
                filling <= 1'b0;
                valid <= 1'b1;
            end
        end
    end
endmodule
