"""The code sandbox: running a model's code against hidden tests, isolated from the machine and the harness."""
