//! Black-box tests: real clients against a started karst-server, and differential runs against redis-server.
