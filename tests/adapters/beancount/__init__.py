"""Tests of the Beancount reference adapter."""
