"""Pull-request hosts behind one protocol: the embedded local forge and GitHub."""
