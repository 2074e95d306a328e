"""Reading and writing data/: where it is, the schemas of its tables, one checked reader
(load), the links between the tables of a question, the problems they report, the data
fingerprint, and the one transactional writer for author commands."""
