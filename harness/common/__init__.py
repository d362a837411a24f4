"""What every room uses: the one error type, atomic and bounded files, the input limits, progress bars and
deferred imports, plugins by entry point. Imports nothing else of the harness."""
