"""Shipped plan data and scenario files, and the code that reads them."""
