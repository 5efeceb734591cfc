"""Tests of the syncs: tags, accounts, tax codes, scopes, selection."""
