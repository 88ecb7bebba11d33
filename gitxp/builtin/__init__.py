"""Built-in plugins: gitxp's own behaviour, written against the same hooks third parties use."""
