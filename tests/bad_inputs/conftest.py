"""Nothing in this folder is a test: its suite.yaml files are bad on purpose, read by tests/test_hardening_corpus.py."""
collect_ignore_glob = ["*"]
