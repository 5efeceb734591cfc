"""Tests of the production runtime."""
