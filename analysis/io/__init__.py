"""Reading and writing data/: where it is, one checked reader (load) with the schemas as its vocabulary, cross-file checks, and the one transactional writer for author commands."""
