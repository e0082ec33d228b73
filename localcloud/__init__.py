"""The embedded local cloud: six cloud flavors behind one HTTP service with persistent state
(`python -m localcloud`). Nothing here imports mcis code beyond `settings`."""
