"""Tool calls in model output: finding the call in the text (extraction) and comparing it with a
reference strictly, with BFCL-style accepted alternatives."""
