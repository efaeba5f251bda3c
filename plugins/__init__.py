"""Built-in Seamless Hub plugins: one package per connector, loaded like third-party plugins."""
