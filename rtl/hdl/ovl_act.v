// Activation kernel, int8 without a look-up table (docs/isa.md section 5.1): every feature is clamped to
// [lo, hi] (ReLU: [0, 127]; ReLU6 and Clip: the quantised bounds). One pipeline register, valid/ready.
module ovl_act #(
    parameter integer C = 4,
    parameter integer TAGW = 50
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [7:0]            lo,
    input  wire [7:0]            hi,
    input  wire                  in_valid,
    input  wire [TAGW+C*8-1:0]   in_data,
    output wire                  in_ready,
    output reg                   out_valid,
    output reg  [TAGW+C*8-1:0]   out_data,
    input  wire                  out_ready
);
    assign in_ready = !out_valid || out_ready;
    reg [C*8-1:0] y;
    integer i;
    always @(*) begin
        for (i = 0; i < C; i = i + 1) begin
            if ($signed(in_data[i*8 +: 8]) < $signed(lo)) y[i*8 +: 8] = lo;
            else if ($signed(in_data[i*8 +: 8]) > $signed(hi)) y[i*8 +: 8] = hi;
            else y[i*8 +: 8] = in_data[i*8 +: 8];
        end
    end
    always @(posedge clk) begin
        if (rst) out_valid <= 1'b0;
        else if (in_ready) begin
            out_valid <= in_valid;
            if (in_valid) out_data <= {in_data[TAGW+C*8-1 -: TAGW], y};
        end
    end
endmodule
