"""The authors' commands (``python -m analysis <command>``): argument parsing, exit codes and the
only modules that print (cli, reconcile_cli); the whole-review ``check``; and the steps of the
commands that change data/ on top of the review object (screening decisions, second-reviewer
forms). Every write is one transaction of :mod:`analysis.io.storage`."""
