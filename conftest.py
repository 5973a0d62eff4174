pytest_plugins = ["nexgate.kernel.testing.fixtures"]
