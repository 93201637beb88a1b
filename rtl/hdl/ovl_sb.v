// Stream buffer: DEPTH entries of C features, one registered read port (window walker) and one write port with
// per-feature (byte) enables (feature reader, or feature writer with masked channel writes).
module ovl_sb #(
    parameter integer C = 4,
    parameter integer DEPTH = 4096
) (
    input  wire                      clk,
    input  wire                      we,
    input  wire [$clog2(DEPTH)-1:0]  w_addr,
    input  wire [C*8-1:0]            w_data,
    input  wire [C-1:0]              w_be,
    input  wire [$clog2(DEPTH)-1:0]  r_addr,
    output reg  [C*8-1:0]            r_data
);
    reg [C*8-1:0] mem [0:DEPTH-1];
    integer i;
    always @(posedge clk) begin
        if (we)
            for (i = 0; i < C; i = i + 1)
                if (w_be[i]) mem[w_addr][i*8 +: 8] <= w_data[i*8 +: 8];
        r_data <= mem[r_addr];
    end
endmodule
