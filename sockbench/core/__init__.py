"""Pure logic: no sockets, no clocks of its own. Everything takes bytes and timestamps."""
