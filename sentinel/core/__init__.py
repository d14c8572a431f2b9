"""Sentinel's domain, free of any transport or storage: what a transaction is, how one
is decided, what a scored transaction carries, which events exist, and the errors
that say whose fault a failure is. Standard library plus numpy, onnx and onnxruntime only.
"""
