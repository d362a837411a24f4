"""What every room uses: the one error type, atomic and bounded files, the input limits, progress bars and
deferred imports. Imports nothing else of the harness."""
