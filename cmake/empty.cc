// Keeps object libraries non-empty while a component has no sources yet.
