// Synchronous show-ahead FIFO (valid/ready on both sides). `count` is the occupancy.
module ovl_fifo #(
    parameter integer W = 8,
    parameter integer DEPTH = 16
) (
    input  wire                         clk,
    input  wire                         rst,
    input  wire                         in_valid,
    input  wire [W-1:0]                 in_data,
    output wire                         in_ready,
    output wire                         out_valid,
    output wire [W-1:0]                 out_data,
    input  wire                         out_ready,
    output reg  [$clog2(DEPTH+1)-1:0]   count
);
    localparam integer AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer CW = $clog2(DEPTH + 1);
    localparam [CW-1:0] FULL = DEPTH[CW-1:0];
    localparam integer LASTI = DEPTH - 1;
    localparam [AW-1:0] LAST = LASTI[AW-1:0];

    reg [W-1:0]  mem [0:DEPTH-1];
    reg [AW-1:0] rd, wr;
    wire push = in_valid && in_ready;
    wire pop  = out_valid && out_ready;

    assign in_ready  = (count != FULL);
    assign out_valid = (count != {CW{1'b0}});
    assign out_data  = mem[rd];

    always @(posedge clk) begin
        if (rst) begin
            rd <= {AW{1'b0}};
            wr <= {AW{1'b0}};
            count <= {CW{1'b0}};
        end else begin
            if (push) begin
                mem[wr] <= in_data;
                wr <= (wr == LAST) ? {AW{1'b0}} : wr + 1'b1;
            end
            if (pop) rd <= (rd == LAST) ? {AW{1'b0}} : rd + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
        end
    end
endmodule
