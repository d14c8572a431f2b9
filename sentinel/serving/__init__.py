"""Running Sentinel's functions and servers: the function lifecycle and its
functions-framework adapter, the mapping of failures to HTTP answers, the sink and
HTTP clients, and the WSGI server for the apps Sentinel serves itself.
"""
