"""The running sandbox: the server process, the run executor, the source trigger, bootstrap and processes."""
