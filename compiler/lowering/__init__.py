"""Lowering of an annotated IR graph to a `Program`: tiling, filter chunks, memory map, bundle fields."""
