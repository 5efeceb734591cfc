"""The repository's promises: README and docs snippets, rule catalogue, hygiene, layers."""
