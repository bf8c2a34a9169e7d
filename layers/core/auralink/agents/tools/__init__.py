"""Tools that agents call, whatever the framework: built-in ones and those of the user's MCP connections."""
