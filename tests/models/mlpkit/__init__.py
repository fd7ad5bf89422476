"""A small project split across files."""
