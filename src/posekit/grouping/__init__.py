"""Grouping of detected joints into persons: associative-embedding tags and greedy body-part matching."""
