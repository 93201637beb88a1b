// One hop of the daisy-chained config network (docs/isa.md section 2).
//
// A packet (payload | module ID | last word | end of bundle | word index) enters from the previous hop. A packet
// addressed to this hop's module ID goes into the module's config FIFO; any other packet is registered and passed
// on to the next hop. Back-pressure: a full config FIFO, or a full output register that the next hop does not
// drain, holds the packet at this hop's input (in_ready = 0), which stalls the chain behind it. Order is kept:
// packets leave in the order they entered, so each module sees its words in stream order.
module ovl_cfg_node #(
    parameter integer ID = 0,
    parameter integer PACKET = 64,
    parameter integer PAYLOAD = 32,
    parameter integer FIFO_DEPTH = 32
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire                      in_valid,
    input  wire [PACKET-1:0]         in_data,
    output wire                      in_ready,
    output reg                       out_valid,
    output reg  [PACKET-1:0]         out_data,
    input  wire                      out_ready,
    // the module's config FIFO: {word index[7:0], eob, last, payload}
    output wire                      cfg_valid,
    output wire [PAYLOAD+9:0]        cfg_data,
    input  wire                      cfg_ready,
    output wire [$clog2(FIFO_DEPTH+1)-1:0] cfg_count
);
    localparam [5:0] MY_ID = ID[5:0];
    wire [5:0] id   = in_data[PAYLOAD +: 6];
    wire       mine = (id == MY_ID);
    wire       fifo_ready;
    wire       out_free = !out_valid || out_ready;

    assign in_ready = mine ? fifo_ready : out_free;

    ovl_fifo #(.W(PAYLOAD + 10), .DEPTH(FIFO_DEPTH)) fifo (
        .clk(clk), .rst(rst),
        .in_valid(in_valid && mine),
        .in_data({in_data[PAYLOAD+8 +: 8], in_data[PAYLOAD+7], in_data[PAYLOAD+6], in_data[PAYLOAD-1:0]}),
        .in_ready(fifo_ready),
        .out_valid(cfg_valid), .out_data(cfg_data), .out_ready(cfg_ready), .count(cfg_count)
    );

    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
            out_data <= {PACKET{1'b0}};
        end else if (out_free) begin
            out_valid <= in_valid && !mine;
            if (in_valid && !mine) out_data <= in_data;
        end
    end
endmodule
